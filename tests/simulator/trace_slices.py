"""Small slices of the shipped real traces, written to a temp file for tests: the header plus
chosen 1-based file lines (header = line 1), so tests hand-compute on real rows."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tests.conftest import SHARED

DLRM = SHARED / "traces/alibaba-gpu-v2025-dlrm/disaggregated_DLRM_trace.csv"
GENAI = SHARED / "traces/alibaba-genai-v2026/lora_request_trace.csv"

# instance_0 (HN, no times), instance_2454 (CN, deleted at 85), instance_7280 (CN, created
# 475.00000000000006, scheduled 623, alive at the end), instance_7281 (CN, 610 / 683 / 91730),
# instance_13574 (CN, 1435629 / 1435629 / 1435760), instance_17763 (HN, zero-length at 1799786).
DLRM_LINES = (2, 2456, 7282, 7283, 13576, 17765)
# 16:57:50 1 image 32 s; 18:16:14 1 image 43 s; 18:17:06 8 images 36 s; 18:17:16 8 images 53 s
# (IMG_2_IMG); 2024-11-17 04:44:00 FAILED 2 images 3 s; 2024-11-26 22:50:35 PENDING, blanks.
GENAI_LINES = (2, 3, 4, 5, 202, 9632)


def write_slice(source: Path, lines: Sequence[int], dest: Path) -> Path:
    wanted = {1, *lines}
    with source.open(encoding="utf-8") as fh:
        kept = [text for number, text in enumerate(fh, start=1) if number in wanted]
    dest.write_text("".join(kept), encoding="utf-8")
    return dest


def write_rows(header_from: Path, rows: Sequence[str], dest: Path) -> Path:
    """The real header plus hand-written data rows (for bad-input tests)."""
    with header_from.open(encoding="utf-8") as fh:
        header = fh.readline()
    dest.write_text(header + "".join(r + "\n" for r in rows), encoding="utf-8")
    return dest
