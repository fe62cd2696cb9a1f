"""Tolerant exposition parsing against the real dcgm-exporter samples."""

from __future__ import annotations

import collections

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Gauge, generate_latest

from scheduler.telemetry.hub.textparse import parse, parse_line
from tests.scheduler.telemetry.conftest import DCGM_MISC


def test_real_a800_sample_skips_only_the_unconvertible_lines(dcgm_text: str) -> None:
    p = parse(dcgm_text)
    # 26 families; 16 with 10 series (3 GIs + 7 GPUs), 9 with 7 series (no MIG GPU) = 223,
    # plus DCGM_FI_DEV_VGPU_PER_PROCESS_UTILIZATION: 10 lines "ERROR - FAILED TO CONVERT".
    assert len(p.samples) == 16 * 10 + 9 * 7 == 223
    assert len(p.bad_lines) == 10
    counts = collections.Counter(s.name for s in p.samples)
    assert counts["DCGM_FI_DEV_GPU_UTIL"] == 7
    assert "DCGM_FI_DEV_VGPU_PER_PROCESS_UTILIZATION" not in counts


def test_readme_lines_with_space_after_comma() -> None:
    p = parse(DCGM_MISC.read_text())
    assert p.bad_lines == []
    first = p.samples[0]
    assert first.name == "DCGM_FI_DEV_SM_CLOCK"
    assert first.labels == {"gpu": "0", "UUID": "GPU-604ac76c-d9cf-fef3-62e9-d92044ab6e52"}
    assert first.value == 139.0
    # the DCGM "not supported" sentinel parses as a number; the DCGM mapping discards it
    assert any(s.value == float(0x7FFFFFFFFFFFFFF2) for s in p.samples)


@pytest.mark.parametrize(
    "line",
    [
        'm{a="1"} ERROR - FAILED TO CONVERT TO STRING',
        'm{a="1" 3',
        "m{a=1} 3",
        "{} 3",
        "m",
        "m 1 2 3",
        'm{a="1"} abc',
    ],
)
def test_bad_lines_raise_value_error(line: str) -> None:
    with pytest.raises(ValueError):
        parse_line(line)


def test_escapes_empty_braces_and_timestamp() -> None:
    s = parse_line(r'm{a="x\"y\\z",b=""} 1.5 1700000000000')
    assert s.labels == {"a": 'x"y\\z', "b": ""}
    assert (s.value, s.timestamp_s) == (1.5, 1700000000.0)
    assert parse_line("m{} 2").labels == {}


_label_values = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)


@given(
    st.dictionaries(
        st.sampled_from(["gpu", "UUID", "Hostname", "GPU_I_PROFILE"]), _label_values, max_size=4
    ),
    st.floats(-1e12, 1e12, allow_nan=False),
)
def test_round_trip_through_prometheus_client(labels: dict[str, str], value: float) -> None:
    """Property: whatever prometheus_client renders, we read back unchanged."""
    reg = CollectorRegistry()
    g = Gauge("tessera_test_metric", "t", labelnames=sorted(labels), registry=reg)
    (g.labels(**labels) if labels else g).set(value)
    p = parse(generate_latest(reg).decode())
    assert p.bad_lines == []
    [s] = [s for s in p.samples if s.name == "tessera_test_metric"]
    assert s.labels == labels and s.value == value
