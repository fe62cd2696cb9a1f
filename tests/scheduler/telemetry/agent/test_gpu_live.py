"""On a machine with an NVIDIA GPU: the agent's /metrics follow NVML (idle and under load).

Runs benchmarks/device/nvml_live.py; skips cleanly without NVML (as on the CI box).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO
from tests.scheduler.telemetry.conftest import nvml_present

pytestmark = pytest.mark.gpu


def _nvml_live(timeout: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "benchmarks/device/nvml_live.py")],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.skipif(not nvml_present(), reason="no NVIDIA GPU / NVML on this machine")
def test_agent_metrics_follow_nvml_on_a_real_gpu() -> None:
    out = _nvml_live(timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "RESULT: PASS" in out.stdout


def test_script_skips_cleanly_without_a_gpu() -> None:
    if nvml_present():
        pytest.skip("a GPU is present: the skip path cannot be shown")
    out = _nvml_live(timeout=120)
    assert out.returncode == 0 and out.stdout.startswith("SKIP: ")
