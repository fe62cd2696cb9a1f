"""`tessera serve` as a user runs it: a subprocess on a free loopback port, spoken to over HTTP."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
import yaml

from tests.conftest import REPO

EX = REPO / "examples"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    return env


def start(*args: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "serve", "--port", "0", *args],
        cwd=REPO, env=_env(), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        m = re.search(r"serving .* on (https?://\S+)", line)
        if m:
            return proc, m.group(1)
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError(f"tessera serve did not start (exit {proc.poll()})")


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    proc, url = start("--snapshot", str(EX / "cluster.json"))
    yield url
    proc.send_signal(signal.SIGINT)
    # uvicorn shuts down gracefully, then re-raises the signal it caught (exit 130).
    assert proc.wait(timeout=20) in (0, 130, -signal.SIGINT)


def test_snapshot_server_answers_every_verb(served: str) -> None:
    pod = yaml.safe_load((EX / "pod-h100.yaml").read_text())
    with httpx.Client(base_url=served, timeout=30) as c:
        assert c.get("/readyz").status_code == 200
        body = orjson.dumps({"Pod": pod, "Nodes": None, "NodeNames": ["gpu-a", "gpu-b", "gpu-c"]})
        f = c.post("/filter", content=body).json()
        # gpu-b: its only GPU is in MIG mode; gpu-c: an A100. No preemption changes either.
        assert f["NodeNames"] == ["gpu-a"]
        assert set(f["FailedAndUnresolvableNodes"]) == {"gpu-b", "gpu-c"}
        p = c.post("/prioritize", content=body).json()
        assert [h["Host"] for h in p] == ["gpu-a", "gpu-b", "gpu-c"]
        # Snapshot mode has no apiserver to bind through: a clear error, not a silent no-op.
        bind = {"PodName": "finetune", "PodNamespace": "default",
                "PodUID": pod["metadata"]["uid"], "Node": "gpu-a"}  # fmt: skip
        err = c.post("/bind", content=orjson.dumps(bind)).json()["Error"]
        assert "no binder" in err
        assert c.post("/filter", content=b"{").status_code == 400
        assert "tessera_extender_request_duration_seconds" in c.get("/metrics").text


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--snapshot", "nope.json"], "nope.json not found"),
        (["--snapshot", "examples/cluster.json", "--in-cluster"], "at most one of"),
        (["--snapshot", "examples/cluster.json", "--tls-cert", "examples/cluster.json"],
         "tls_cert and tls_key must be given together"),
        (["--snapshot", "examples/cluster.json", "--config", "nope.yaml"], "--config nope.yaml"),
        (["--kubeconfig", "nope.kubeconfig"], "kubeconfig nope.kubeconfig not found"),
    ],
)  # fmt: skip
def test_bad_input_exits_2(args: list[str], needle: str) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "cli.main", "serve", "--port", "0", *args],
        cwd=REPO, env=_env(), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0]


def test_config_file_and_token(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("t0ken\n")
    cfg = tmp_path / "tessera.yaml"
    cfg.write_text(f"token_file: {token}\nbody_limit_bytes: 2048\n")
    proc, url = start("--snapshot", str(EX / "cluster.json"), "--config", str(cfg))
    try:
        with httpx.Client(base_url=url, timeout=30) as c:
            assert c.get("/metrics").status_code == 401
            ok = c.get("/metrics", headers={"Authorization": "Bearer t0ken"})
            assert ok.status_code == 200
            big = orjson.dumps({"Pod": {"metadata": {"name": "p"}}, "NodeNames": ["x" * 3000]})
            assert c.post("/filter", content=big).status_code == 413
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)


def test_metrics_port_serves_metrics_and_probes_alone(served_free_port: int) -> None:
    # The chart's network policy opens this port to Prometheus; the verbs stay on --port only.
    proc, url = start(
        "--snapshot", str(EX / "cluster.json"), "--metrics-port", str(served_free_port)
    )
    try:
        pod = yaml.safe_load((EX / "pod-h100.yaml").read_text())
        body = orjson.dumps({"Pod": pod, "Nodes": None, "NodeNames": ["gpu-a"]})
        assert httpx.post(f"{url}/filter", content=body, timeout=30).status_code == 200
        metrics_url = f"http://127.0.0.1:{served_free_port}"
        text = httpx.get(f"{metrics_url}/metrics", timeout=30).text
        # The same registry as the verbs' port: the filter call above is counted here.
        assert 'tessera_extender_requests_total{code="200",verb="filter"} 1.0' in text
        # Probes answer there too; no verb does.
        assert httpx.get(f"{metrics_url}/healthz", timeout=30).text == "ok"
        assert httpx.get(f"{metrics_url}/readyz", timeout=30).status_code == 200
        reply = httpx.post(f"{metrics_url}/filter", content=body, timeout=30)
        assert reply.status_code == 404 and "NodeNames" not in reply.text
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)


def test_bad_metrics_port_exits_2() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "cli.main", "serve", "--snapshot", "examples/cluster.json",
         "--metrics-port", "70000"],
        cwd=REPO, env=_env(), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip() == "error: --metrics-port 70000: must be 1..65535"


@pytest.fixture
def served_free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
