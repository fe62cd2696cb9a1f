"""DLRM v2025 loader: the shipped file's computed statistics (shared/reference/
traces-and-targets.md section 6.1), a hand-read slice, strict errors and lenient counts."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest

from simulator.traces import TraceError, load_dlrm_instances
from tests.simulator.trace_slices import DLRM, DLRM_LINES, write_rows, write_slice

GOOD = "instance_9,HN,app_1,8,8,1,1,25,25,40.0,40.0,200.0,200.0,2,10.0,12.0,100.0"


def test_full_file_matches_reference_statistics():
    rows = load_dlrm_instances(DLRM).rows
    assert len(rows) == 23_871
    assert len({r.app for r in rows}) == 156
    assert {r.gpu for r in rows if r.role == "CN"} == {0}
    assert {r.gpu for r in rows if r.role == "HN"} == {1}
    assert sum(r.role == "HN" for r in rows) == 7_386
    assert sum(r.creation_time is None and r.scheduled_time is None for r in rows) == 7_280
    assert sum(r.deletion_time is None for r in rows) == 8_878
    both = [r.deletion_time - r.scheduled_time for r in rows
            if r.scheduled_time is not None and r.deletion_time is not None]
    assert (len(both), statistics.median(both)) == (12_390, 8278.5)
    times = [t for r in rows for t in (r.creation_time, r.scheduled_time, r.deletion_time)
             if t is not None]
    assert (min(times), max(times)) == (75.0, 2_677_541.0)


def test_slice_rows_read_as_written(tmp_path: Path):
    rows = load_dlrm_instances(write_slice(DLRM, DLRM_LINES, tmp_path / "s.csv")).rows
    assert [r.name for r in rows] == ["instance_0", "instance_2454", "instance_7280",
                                      "instance_7281", "instance_13574", "instance_17763"]
    first = rows[0]  # instance_0,HN,app_0,12,12,1,1,25,25,120.0,120.0,640.0,800.0,8,,,
    assert (first.role, first.cpu, first.gpu, first.rdma_pct, first.memory_gib,
            first.disk_gib, first.max_per_node) == ("HN", 12, 1, 25, 120.0, 640.0, 8)
    assert (first.creation_time, first.scheduled_time, first.deletion_time) == (None,) * 3
    assert rows[1].max_per_node == 2 and rows[1].deletion_time == 85.0
    assert rows[2].creation_time == pytest.approx(475.0) and rows[2].deletion_time is None
    assert rows[4].max_per_node == -1


@pytest.mark.parametrize(("row", "column", "needle"), [
    (GOOD.replace(",HN,", ",GN,"), "role", "unknown role 'GN'"),
    (GOOD.replace(",HN,", ",CN,"), "gpu_request", "cannot ask for 1 GPUs"),
    (GOOD.replace("25,25,40.0,40.0", "25,25,lots,40.0"), "memory_request", "expected a number"),
    (GOOD.replace(",2,10.0,", ",0,10.0,"), "max_instance_per_node", "use -1 for no limit"),
    (GOOD.replace(",100.0", ",11.0"), "deletion_time", "before it began at 12"),
    (GOOD.replace("25,25", "125,125"), "rdma_request", "out of range 0..100"),
    (GOOD.replace(",10.0,", ",-5,"), "creation_time", "non-negative seconds"),
])
def test_strict_mode_names_file_line_and_column(tmp_path: Path, row: str, column: str,
                                                needle: str):
    f = write_rows(DLRM, [GOOD, row], tmp_path / "bad.csv")
    with pytest.raises(TraceError) as info:
        load_dlrm_instances(f)
    assert (info.value.path, info.value.line, info.value.column) == (str(f), 3, column)
    assert f"bad.csv:3: column {column!r}:" in str(info.value) and needle in str(info.value)


def test_short_row_and_wrong_header(tmp_path: Path):
    f = write_rows(DLRM, [GOOD, "instance_1,HN,app_0"], tmp_path / "short.csv")
    with pytest.raises(TraceError, match=r"short.csv:3: has 3 fields, header has 17"):
        load_dlrm_instances(f)
    other = tmp_path / "other.csv"
    other.write_text("instance_sn,role\nx,HN\n")
    with pytest.raises(TraceError, match=r"other.csv:1: unexpected header"):
        load_dlrm_instances(other)


def test_lenient_skips_and_counts(tmp_path: Path):
    bad = [GOOD.replace(",HN,", ",XX,"), GOOD.replace("8,8,1", "8,8,x"), "only,three,fields"]
    report = load_dlrm_instances(write_rows(DLRM, [GOOD, *bad, GOOD], tmp_path / "m.csv"),
                                 lenient=True)
    assert (len(report.rows), report.skipped, len(report.first_errors)) == (2, 3, 3)
    assert "m.csv:3: column 'role'" in report.first_errors[0]
