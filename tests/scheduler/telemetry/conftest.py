"""Paths to the recorded real data the telemetry tests play and parse."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SHARED

H100_DIR = SHARED / "fixtures" / "nvml" / "h100-80gb-hbm3"
DCGM_SAMPLE = SHARED / "reference" / "dcgm-exporter-sample-metrics.txt"
DCGM_MISC = SHARED / "reference" / "dcgm-exporter-sample-metrics-misc.txt"
H100_UUID = "GPU-3d950e61-fc9d-ffc5-3c1e-8b3db20ef80a"
A800_HOST = "msxf-hpc-64-35-ai"


def nvml_present() -> bool:
    """NVML initialises here (a GPU and its driver): decides which NVML tests can run."""
    import pynvml

    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return False
    pynvml.nvmlShutdown()
    return True


@pytest.fixture(scope="session")
def h100_dir(shared_dir: Path) -> Path:
    return H100_DIR


@pytest.fixture(scope="session")
def dcgm_text(shared_dir: Path) -> str:
    return DCGM_SAMPLE.read_text()
