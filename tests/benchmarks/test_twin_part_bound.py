"""`benchmarks/twin_part_bound.py`: seeds of kube-scheduler alone's model that end part-bound."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "twin_part_bound.py"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip


def test_the_20_job_slice_ends_part_bound_on_every_seed():
    # The 20-job slice's partial-gang deadlock (RESULTS.md, digital twin round 6): one gang
    # holds GPUs at 2 of its members for good, on every seed of kube-default-queued.
    res = run("--workload", "synthetic20", "--seeds", "2")
    assert res.returncode == 0, res.stderr
    assert "2/2 seeds end part-bound" in res.stdout
    assert res.stdout.count("1 part-bound") == 2


def test_the_200_job_slice_without_jitter_completes_every_gang():
    # 0 of 500 seeds end part-bound without arrival jitter (RESULTS.md, round 9).
    res = run("--seeds", "2", "--jitter", "0")
    assert res.returncode == 0, res.stderr
    assert "0/2 seeds end part-bound" in res.stdout


@pytest.mark.parametrize("args", [("--jitter", "x"), ("--jitter", "-1"), ("--seeds", "0")])
def test_bad_input_is_one_line_and_exit_2(args):
    res = run(*args)
    assert res.returncode == 2
    assert res.stdout == ""
    assert len(res.stderr.strip().splitlines()) == 1
