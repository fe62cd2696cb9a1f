"""`tessera agent`: --once on the recorded H100 capture, exit-2 errors, and the real process
serving /metrics (replay, and NVML absent on this machine) until SIGTERM."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from cli.main import app
from tests.cli.one_line import one_line_error
from tests.conftest import REPO, SHARED

H100 = SHARED / "fixtures" / "nvml" / "h100-80gb-hbm3"
runner = CliRunner()


def test_once_prints_the_annotation_document() -> None:
    r = runner.invoke(
        app,
        [
            "agent",
            "--once",
            "--node-name",
            "gpu-7",
            "--nvml-replay",
            str(H100),
            "--replay-offset",
            "10",
            "--replay-hold",
            "--inject-xid",
            "79",
        ],
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout[r.stdout.index("{") :])
    [g] = doc["gpus"]
    assert doc["version"] == 1 and g["uuid"] == "GPU-3d950e61-fc9d-ffc5-3c1e-8b3db20ef80a"
    assert g["memory_mib"] == 81559  # 85,520,809,984 B / 2**20
    assert g["load"]["utilization_pct"] == 100 and g["health"]["xid_recent"] == [79]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--port", "70000"], "--port 70000"),
        (["--interval", "0"], "--interval 0"),
        (["--max-temperature", "-3"], "--max-temperature -3.0"),
        (["--publish", "maybe"], "--publish 'maybe'"),
        (["--nvml-replay", "/no/such/capture"], "--nvml-replay /no/such/capture"),
        (["--inject-xid", "79"], "--inject-xid needs --nvml-replay"),
    ],
)
def test_bad_input_exits_2_with_one_line(args: list[str], needle: str) -> None:
    assert needle in one_line_error(["agent", "--once", *args])


def _serve(args: list[str], tmp_path: Path) -> tuple[subprocess.Popen[bytes], str, Path]:
    log = tmp_path / "agent.log"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli.main",
            "agent",
            "--port",
            "0",
            "--host",
            "127.0.0.1",
            "--publish",
            "off",
            "--interval",
            "0.2",
            *args,
        ],
        cwd=REPO,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        m = re.search(r"serving /metrics on 127\.0\.0\.1:(\d+)", log.read_text())
        if m:
            return proc, f"http://127.0.0.1:{m.group(1)}/metrics", log
        assert proc.poll() is None, log.read_text()
        time.sleep(0.2)
    proc.kill()
    raise AssertionError(log.read_text())


def _stop(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=15)


def test_process_serves_replayed_metrics_and_stops_on_sigterm(tmp_path: Path) -> None:
    proc, url, _ = _serve(["--node-name", "n1", "--nvml-replay", str(H100)], tmp_path)
    try:
        time.sleep(0.5)
        text = httpx.get(url, timeout=5).text
    finally:
        assert _stop(proc) == 0
    assert 'tessera_agent_nvml_up{node="n1"} 1.0' in text
    assert "tessera_gpu_power_watts{" in text


@pytest.mark.skipif(Path("/dev/nvidiactl").exists(), reason="a GPU is present")
def test_process_without_nvml_keeps_serving_and_logs_one_line(tmp_path: Path) -> None:
    proc, url, log = _serve(["--node-name", "cpu-only"], tmp_path)
    try:
        time.sleep(1.5)  # several sweeps at 0.2 s: still one warning, still up
        text = httpx.get(url, timeout=5).text
        assert proc.poll() is None
    finally:
        assert _stop(proc) == 0
    assert 'tessera_agent_nvml_up{node="cpu-only"} 0.0' in text
    assert log.read_text().count("GPU telemetry unavailable on node cpu-only") == 1
