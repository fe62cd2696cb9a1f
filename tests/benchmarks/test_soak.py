"""The soak benchmark's 30-second form: it runs, and its own table says 0 errors, RSS growth
under 10 % and no p99 trend: the median of the later windows' p99 at most `CI_TREND_BOUND`
times that of the earlier ones (`LONG_TREND_BOUND` in the long form). The issue's goal proper
(last window within 20 % of the first) is checked on the 10-minute form (TESSERA_LONG=1,
figures in benchmarks/RESULTS.md): one 5-second window on a shared 2-core box is too short for
that comparison not to flake."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

LONG = os.environ.get("TESSERA_LONG", "") not in ("", "0")
# Generous on purpose: per-window p99 of ~300 requests swings 2-5x with the neighbours' load
# (benchmarks/RESULTS.md, soak); a median over three windows still moves, a latency that grows
# with time (a leak, an ever-longer scan) would show as a steady climb well past this.
CI_TREND_BOUND = 3.0
# One-minute windows still follow the box: a 10-minute run with p50 falling 3.3 -> 2.2 ms had a
# trend of 1.47 from three busy middle minutes (RESULTS.md, soak); the goal proper is p99_flat.
LONG_TREND_BOUND = 2.0


def test_soak_short_form_table(tmp_path: Path) -> None:
    out = tmp_path / "soak.json"
    span = ("600", "60") if LONG else ("30", "5")
    args = ["--duration", span[0], "--window", span[1]]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "soak.py"), *args, "--json", str(out)],
        capture_output=True, text=True, env=env, timeout=1200,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(out.read_text())
    rows = result["windows"]
    assert len(rows) == (10 if LONG else 6) and all(r["requests"] > 0 for r in rows)
    assert "p99 last/first" in proc.stdout  # the printed table carries the verdict
    # The verdict is the table's own arithmetic.
    assert result["p99_last_over_first"] == round(rows[-1]["p99_ms"] / rows[0]["p99_ms"], 3)
    assert result["rss_growth"] == round(rows[-1]["rss_mib"] / rows[0]["rss_mib"] - 1, 4)
    half = len(rows) // 2
    early = statistics.median(r["p99_ms"] for r in rows[:half])
    late = statistics.median(r["p99_ms"] for r in rows[-half:])
    assert result["p99_trend"] == round(late / early, 3)
    assert result["p99_trend"] <= (LONG_TREND_BOUND if LONG else CI_TREND_BOUND), [
        r["p99_ms"] for r in rows
    ]
    assert result["errors"] == 0 and result["ok"]["errors"]
    assert result["ok"]["rss"], result["rss_growth"]
    if LONG:
        assert result["ok"]["p99_flat"], result["p99_last_over_first"]
