"""The replay backend plays the recorded H100 capture: real numbers at recorded pace."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.telemetry.agent.backend import NvmlUnavailable
from scheduler.telemetry.agent.nvml_replay import ReplayBackend, load_rows
from tests.scheduler.telemetry.conftest import H100_DIR, H100_UUID

T0 = 1_800_000_000.0


def _backend(**kw) -> ReplayBackend:
    b = ReplayBackend(H100_DIR, **kw)
    b.start()
    return b


def test_idle_start_matches_first_recorded_sample() -> None:
    d = _backend().sample(T0).devices[0]
    # nvml_timeseries_h100.json row 0: idle, 0 %, fb_used 503,316,480 B, 84,387 mW, 53 C, 345 MHz
    assert (d.uuid, d.name) == (H100_UUID, "NVIDIA H100 80GB HBM3")
    assert d.utilization_pct == 0 and d.memory_used_bytes == 503_316_480
    assert d.power_w == pytest.approx(84.387) and d.temperature_c == 53 and d.sm_clock_mhz == 345
    assert d.memory_total_bytes == 85_520_809_984 and d.power_limit_w == 700.0
    assert (d.mig_enabled, d.remap_failure, d.ecc_uncorrectable_volatile) == (False, False, 0)


def test_plays_at_recorded_pace_into_the_matmul_phase() -> None:
    b = _backend()
    b.sample(T0)
    d = b.sample(T0 + 10.0).devices[0]  # 10 s in: matmul steady state (8.5-15.5 s)
    assert d.utilization_pct >= 99 and 517 <= d.power_w <= 722
    assert d.memory_used_bytes == 1_563_230_208  # the steady matmul fb_used (1490.8 MiB)


def test_hold_freezes_the_position() -> None:
    b = _backend(offset_s=10.0, hold=True)
    first = b.sample(T0).devices[0]
    later = b.sample(T0 + 123.0).devices[0]
    assert first == later and first.utilization_pct >= 99


def test_multiproc_series_follows_and_reports_processes() -> None:
    rows = load_rows(H100_DIR)
    ts = json.loads((H100_DIR / "nvml_timeseries_h100.json").read_text())
    mp = json.loads((H100_DIR / "nvml_multiproc_h100.json").read_text())
    assert len(rows) == len(ts) + len(mp["rows"]) == 75 + 95
    assert max(r.processes or 0 for r in rows) == 2  # light + heavy process
    assert all(a.t <= b.t for a, b in zip(rows, rows[1:], strict=False))


def test_inject_xid_is_a_drill_on_top_of_real_data() -> None:
    s = _backend(inject_xids=(79,)).sample(T0)
    assert [(x.xid, x.gpu_uuid) for x in s.xids] == [(79, H100_UUID)]


@pytest.mark.parametrize("bad", ["missing", "garbage"])
def test_unreadable_capture_is_nvml_unavailable(tmp_path: Path, bad: str) -> None:
    if bad == "garbage":
        (tmp_path / "nvml_snapshot_x.json").write_text("{not json")
    with pytest.raises(NvmlUnavailable, match="replay|snapshot"):
        ReplayBackend(tmp_path).start()


@given(st.floats(0, 10_000))
def test_any_time_plays_a_recorded_row(dt: float) -> None:
    """Property: every instant maps (looping) onto a recorded row, never an invented value."""
    rows = load_rows(H100_DIR)
    recorded = {(r.gpu_util, r.fb_used, r.power_mw) for r in rows}
    b = ReplayBackend(H100_DIR)
    b.start()
    b.sample(T0)
    d = b.sample(T0 + dt).devices[0]
    assert (d.utilization_pct, d.memory_used_bytes, round(d.power_w * 1000)) in {
        (u, f, round(p)) for u, f, p in recorded
    }


@pytest.mark.parametrize(
    "text",
    ["[" * 100_000 + "]" * 100_000, "[]", '{"devices": 5}'],
    ids=["deep", "empty-series", "devices-not-a-list"],
)
def test_a_hostile_capture_is_nvml_unavailable(tmp_path: Path, text: str) -> None:
    """Round 10: json.loads of a deep capture was a RecursionError traceback, an empty time
    series an IndexError one (`tessera agent --nvml-replay`)."""
    (tmp_path / "nvml_snapshot_x.json").write_text('{"devices": [{"index": 0}]}')
    (tmp_path / "nvml_timeseries_x.json").write_text(text)
    with pytest.raises(NvmlUnavailable, match="cannot read NVML replay|lists no devices"):
        ReplayBackend(tmp_path).start()
