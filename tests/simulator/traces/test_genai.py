"""GenAI v2026 LoRA request loader: the shipped file's computed statistics (shared/reference/
traces-and-targets.md section 6.2), a hand-read slice, strict errors and lenient counts."""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from simulator.traces import TraceError, load_lora_requests
from tests.simulator.trace_slices import GENAI, GENAI_LINES, write_rows, write_slice

GOOD = "2024-11-15 16:57:50,TXT_2_IMG,SUCCEED,32.0,G0000,63.0,26.0,1.0,30.0,M0000,0"


def test_full_file_matches_reference_statistics():
    rows = load_lora_requests(GENAI).rows
    assert len(rows) == 26_823
    assert (rows[0].created, rows[-1].created.strftime("%Y-%m-%d %H:%M")) == (
        datetime(2024, 11, 15, 16, 57, 50), "2024-12-08 17:33")
    assert Counter(r.predict_type for r in rows) == {
        "TXT_2_IMG": 24_438, "IMG_2_IMG": 2_199, "INPAINTING": 186}
    assert Counter(r.status for r in rows) == {
        "SUCCEED": 26_392, "FAILED": 398, "PENDING": 30, "PROCESSING": 3}
    assert statistics.median(r.exec_time_s for r in rows) == 23.0
    assert max(r.exec_time_s for r in rows) == 567.0
    # The reference's 87 base models count the blank (25 rows with no model) as one value.
    assert (len({r.base_model for r in rows}), len({r.group for r in rows})) == (87, 4247)
    assert sum(r.base_model == "" for r in rows) == 25
    loras = Counter(min(r.num_lora, 3) for r in rows)
    assert [loras[n] for n in (0, 1, 2, 3)] == [22_329, 4_195, 255, 44]


def test_slice_rows_read_as_written(tmp_path: Path):
    rows = load_lora_requests(write_slice(GENAI, GENAI_LINES, tmp_path / "s.csv")).rows
    assert [r.num_images for r in rows] == [1, 1, 8, 8, 2, None]
    assert [r.exec_time_s for r in rows] == [32.0, 43.0, 36.0, 53.0, 3.0, 0.0]
    assert [r.status for r in rows][-2:] == ["FAILED", "PENDING"]
    assert rows[3].predict_type == "IMG_2_IMG" and rows[0].inference_steps == 30
    pending = rows[-1]  # 2024-11-26 22:50:35,TXT_2_IMG,PENDING,0.0,G0325,,,,,,0
    assert (pending.base_model, pending.prompt_length, pending.inference_steps) == ("", None, None)


@pytest.mark.parametrize(("row", "column", "needle"), [
    (GOOD.replace("2024-11-15 16:57:50", "15/11/2024"), "gmt_create", "YYYY-MM-DD HH:MM:SS"),
    (GOOD.replace("TXT_2_IMG", "TXT_2_VIDEO"), "predict_type", "unknown 'TXT_2_VIDEO'"),
    (GOOD.replace("SUCCEED", "DONE"), "predict_status", "unknown 'DONE'"),
    (GOOD.replace(",32.0,", ",-1.0,"), "exec_time_seconds", "finite number >= 0"),
    (GOOD.replace(",1.0,30.0,", ",1.5,30.0,"), "num_images_per_prompt", "whole number"),
    (GOOD[:-1] + "two", "num_lora", "expected an integer"),
])
def test_strict_mode_names_file_line_and_column(tmp_path: Path, row: str, column: str,
                                                needle: str):
    f = write_rows(GENAI, [GOOD, GOOD, row], tmp_path / "bad.csv")
    with pytest.raises(TraceError) as info:
        load_lora_requests(f)
    assert (info.value.line, info.value.column) == (4, column)
    assert f"bad.csv:4: column {column!r}:" in str(info.value) and needle in str(info.value)


def test_lenient_skips_and_counts(tmp_path: Path):
    bad = [GOOD.replace("SUCCEED", "?"), GOOD.replace(",32.0,", ",nan,")]
    report = load_lora_requests(write_rows(GENAI, [*bad, GOOD], tmp_path / "m.csv"),
                                lenient=True)
    assert (len(report.rows), report.skipped) == (1, 2)
    assert "m.csv:3: column 'exec_time_seconds'" in report.first_errors[1]
