"""Telemetry from exporters and Prometheus that lies (round 9 adversarial pass): a reading
from the future, a label that only looks like a number, NaN/Inf values, thousands of series
for nodes nobody has. None may stop the poller or hide a later correct reading."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.telemetry.hub import TelemetryHub
from scheduler.telemetry.hub.dcgm import readings
from scheduler.telemetry.hub.merge import FUTURE_SKEW_S
from scheduler.telemetry.hub.textparse import Sample, parse
from scheduler.telemetry.readings import GpuReading, XidEvent

NOW = 1_000_000.0


class ListSource:
    """A source over fixed readings (stand-in for Prometheus; the parsers run for real)."""

    def __init__(self, name: str, got: list[GpuReading], max_age_s: float = 120.0) -> None:
        self.name, self.max_age_s, self.got = name, max_age_s, got

    def fetch(self, now: float) -> list[GpuReading]:
        return self.got


def r(at: float, util: float, **kw) -> GpuReading:
    return GpuReading(node="a", index=0, observed_at=at, source="t", utilization_pct=util, **kw)


@pytest.mark.parametrize("future", [NOW + 10 * FUTURE_SKEW_S, math.inf, math.nan, 3.3e10])
def test_a_reading_from_the_future_never_hides_a_correct_one(future: float) -> None:
    """Was: fresh for ever, and as the newest it won over every correct reading after it."""
    liar = ListSource("liar", [r(future, 100.0)])
    honest = ListSource("honest", [r(NOW - 5, 20.0)])
    hub = TelemetryHub([liar, honest])
    hub.refresh(NOW)
    _, load = hub.gpu_telemetry(NOW)[("a", 0)]
    assert load is not None and load.utilization_pct == 20.0


def test_small_clock_skew_is_still_a_reading() -> None:
    hub = TelemetryHub([ListSource("p", [r(NOW + 2.0, 55.0)])])  # 2 s ahead of our clock
    hub.refresh(NOW)
    assert hub.gpu_telemetry(NOW)[("a", 0)][1].utilization_pct == 55.0


def test_xid_from_the_future_does_not_fence_the_gpu_for_ever() -> None:
    xid = XidEvent(xid=79, at=math.inf, gpu_uuid="")
    hub = TelemetryHub([ListSource("p", [r(NOW, 10.0, xid_recent=(xid,))])])
    hub.refresh(NOW)
    assert hub.gpu_telemetry(NOW)[("a", 0)][0].xid_recent == ()


@pytest.mark.parametrize("label", ["²", "٣", "1" * 40, "-1", " 1"])
def test_gpu_label_that_only_looks_like_a_number_is_skipped(label: str) -> None:
    """'²'.isdigit() is true and int('²') raises: the ValueError escaped `readings` and ended
    the telemetry poller thread (every node's load then aged out for good)."""
    samples = [
        (Sample("DCGM_FI_DEV_GPU_UTIL", {"Hostname": "a", "gpu": label}, 90.0), NOW),
        (Sample("DCGM_FI_DEV_GPU_UTIL", {"Hostname": "b", "gpu": "0"}, 40.0), NOW),
    ]
    got = readings(samples, "prom")
    assert [(x.node, x.index, x.utilization_pct) for x in got] == [("b", 0, 40.0)]


def test_xid_code_and_mig_profile_that_only_look_like_numbers_are_ignored() -> None:
    samples = [
        (Sample("tessera_gpu_xid_events", {"node": "a", "gpu": "0", "xid": "²"}, 1.0), NOW),
        (Sample("DCGM_FI_PROF_GR_ENGINE_ACTIVE", {"Hostname": "a", "gpu": "0", "GPU_I_ID": "1",
                "GPU_I_PROFILE": "²g.10gb"}, 0.5), NOW),  # fmt: skip
    ]
    [got] = readings(samples, "prom")
    assert got.xid_recent == () and got.utilization_pct is None


_VALUE = st.sampled_from(["NaN", "+Inf", "-Inf", "-1", "1e308", "9.3e18", "0", "42"])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "ghost-" * 3]),
                          st.text(alphabet="0123456789²٣x", min_size=1, max_size=3),
                          _VALUE, st.one_of(st.none(), st.integers(0, 2**62))),
                max_size=30))  # fmt: skip
def test_any_exposition_gives_readings_that_merge(series) -> None:
    """Invariant: any exposition text of these series parses, turns into readings and merges
    without raising; every load kept is a finite number >= 0 and no reading is from the
    future."""
    lines = []
    for host, gpu, value, ts in series:
        stamp = "" if ts is None else f" {ts}"
        lines.append(f'DCGM_FI_DEV_GPU_UTIL{{Hostname="{host}",gpu="{gpu}"}} {value}{stamp}')
    parsed = parse("\n".join(lines))
    pairs = [(s, NOW if s.timestamp_s is None else s.timestamp_s) for s in parsed.samples]
    hub = TelemetryHub([ListSource("scrape", readings(pairs, "scrape"))])
    hub.refresh(NOW)
    for _, load in hub.gpu_telemetry(NOW).values():
        if load is not None:
            assert load.utilization_pct is None or 0 <= load.utilization_pct < math.inf
            assert load.observed_at is not None and load.observed_at <= NOW + FUTURE_SKEW_S


def test_thousands_of_series_for_unknown_hosts_leave_known_ones_alone() -> None:
    samples = [(Sample("DCGM_FI_DEV_GPU_UTIL", {"Hostname": f"ghost-{i}", "gpu": "0"}, 99.0), NOW)
               for i in range(20_000)]  # fmt: skip
    samples.append((Sample("DCGM_FI_DEV_GPU_UTIL", {"Hostname": "a", "gpu": "0"}, 7.0), NOW))
    hub = TelemetryHub([ListSource("p", readings(samples, "p"))])
    hub.refresh(NOW)
    assert hub.gpu_telemetry(NOW)[("a", 0)][1].utilization_pct == 7.0
