"""Done-when for issue 4, against a real Prometheus.

Three agents replay the recorded H100 capture (idle; matmul steady state; idle with an XID 79
fault drill) and a small exporter serves the real A800 dcgm-exporter sample. Prometheus scrapes
them every second; the extender-side `PrometheusSource` queries it. Then: the unhealthy GPU is
never chosen, the loaded GPU scores lower, and once Prometheus is stopped mid-run the load
scores fall back to allocation only while scheduling goes on.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from scheduler.policy.framework import run_filters, run_scores
from scheduler.policy.model import ClusterState, Gpu, GpuRequest, Node, PodRequest
from scheduler.policy.registry import default_profile
from scheduler.policy.status import Code
from scheduler.telemetry.agent import Agent
from scheduler.telemetry.agent.nvml_replay import ReplayBackend
from scheduler.telemetry.hub import TelemetryHub
from scheduler.telemetry.hub.sources import PrometheusSource
from scheduler.telemetry.hub.textparse import parse_line
from tests.builders import gpu_json, node_json, pod_json
from tests.conftest import REPO
from tests.scheduler.telemetry.conftest import A800_HOST, H100_DIR, H100_UUID
from tests.scheduler.telemetry.prometheus_server import PrometheusServer
from tests.scheduler.telemetry.servers import serve

pytestmark = pytest.mark.prometheus
MAX_AGE_S = 4.0
NODES = {  # node -> (replay offset s, injected XIDs)
    "node-idle": (0.0, ()),
    "node-hot": (10.0, ()),  # 10 s in: the recorded bf16 matmul at 99-100 %
    "node-xid": (0.0, (79,)),
}


def _valid_lines_only(text: str) -> str:
    """Prometheus rejects a whole scrape on one bad line, so its exporter serves the real sample
    minus the 10 unconvertible lines (the direct-scrape source reads the raw file elsewhere)."""
    keep = []
    for line in text.split("\n"):
        if line.startswith("#") or not line.strip():
            keep.append(line)
            continue
        try:
            parse_line(line)
            keep.append(line)
        except ValueError:
            continue
    return "\n".join(keep) + "\n"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, shared_dir: Path) -> Iterator[dict]:
    agents, servers = [], []
    for name, (offset, xids) in NODES.items():
        agent = Agent(
            name,
            ReplayBackend(H100_DIR, offset_s=offset, hold=True, inject_xids=xids),
            interval_s=0.5,
        )
        servers.append(agent.serve(0, "127.0.0.1"))
        threading.Thread(target=agent.run_forever, daemon=True).start()
        agents.append(agent)
    dcgm = (shared_dir / "reference" / "dcgm-exporter-sample-metrics.txt").read_text()
    with serve(
        {"/metrics": (200, _valid_lines_only(dcgm), 0.0), "/raw": (200, dcgm, 0.0)}
    ) as exporter:
        host = exporter.removeprefix("http://")
        prom = PrometheusServer(
            tmp_path_factory.mktemp("prometheus"),
            {
                "tessera-agent": [f"127.0.0.1:{s.server_port}" for s in servers],
                "dcgm": [host],
                "dcgm-raw": [host],
            },
            metrics_path={"dcgm-raw": "/raw"},
        )
        prom.start()
        try:
            yield {"prom": prom, "agents": agents}
        finally:
            prom.stop()
            for a in agents:
                a.stop()
            for s in servers:
                s.shutdown()


def _state(now: float) -> ClusterState:
    def h100_node(name: str) -> Node:
        gpu = Gpu(index=0, uuid=H100_UUID, model="NVIDIA H100 80GB HBM3", memory_mib=81559)
        return Node(
            name=name, gpus=(gpu,), cpu_milli=64000, memory_bytes=512 << 30, source="annotation"
        )

    return ClusterState(nodes={n: h100_node(n) for n in NODES}, now=now)


def _pod(qos: str) -> PodRequest:
    return PodRequest(key=f"ns/{qos}", uid=qos, gpu=GpuRequest(kind="whole"), qos=qos)  # type: ignore[arg-type]


def _best(state: ClusterState, pod: PodRequest) -> tuple[str, dict[str, int], dict]:
    profile = default_profile()
    statuses = run_filters(state, pod, list(state.nodes), profile)
    ok = [n for n, s in statuses.items() if s.ok]
    scores = run_scores(state, pod, ok, profile)
    return max(ok, key=lambda n: (scores[n], n)), scores, statuses


def _wait_for_all(hub: TelemetryHub, timeout_s: float = 40.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        now = time.time()
        hub.refresh(now)
        tele = hub.gpu_telemetry(now)
        if (
            all((n, 0) in tele and tele[(n, 0)][1] is not None for n in NODES)
            and (A800_HOST, 7) in tele
        ):
            return
        time.sleep(0.5)
    raise AssertionError(f"Prometheus never had every target: {hub.statuses()}")


def _serve(config: Path, snapshot: Path) -> tuple[subprocess.Popen[str], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "serve", "--port", "0", "--snapshot", str(snapshot),
         "--config", str(config)],
        cwd=REPO, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        m = re.search(r"serving .* on (https?://\S+)", proc.stderr.readline())
        if m:
            return proc, m.group(1)
        assert proc.poll() is None, "tessera serve exited"
    proc.kill()
    raise AssertionError("tessera serve did not start")


def test_tessera_serve_with_prometheus_url_over_http(stack: dict, tmp_path: Path) -> None:
    """The shipped wiring: settings -> hub -> poller -> extender, spoken to as kube-scheduler."""
    prom: PrometheusServer = stack["prom"]
    snapshot = tmp_path / "cluster.json"
    items = [node_json(n, [gpu_json(0)], allocatable={"nvidia.com/gpu": "1"}) for n in NODES]
    snapshot.write_text(json.dumps({"kind": "List", "apiVersion": "v1", "items": items}))
    config = tmp_path / "tessera.yaml"
    config.write_text(f"prometheus_url: {prom.url}\nthresholds: {{max_age_s: 15, poll_s: 1}}\n")
    pod = pod_json("web", {"nvidia.com/gpu": 1})
    body = orjson.dumps({"Pod": pod, "Nodes": None, "NodeNames": list(NODES)})
    proc, url = _serve(config, snapshot)
    try:
        with httpx.Client(base_url=url, timeout=30) as c:

            def xid_seen() -> dict | None:
                f = c.post("/filter", content=body).json()
                return f if "node-xid" in (f.get("FailedAndUnresolvableNodes") or {}) else None

            deadline = time.monotonic() + 40
            f = xid_seen()
            while f is None and time.monotonic() < deadline:
                time.sleep(0.5)
                f = xid_seen()
            assert f is not None, "the XID never reached the extender"
            assert "XID 79" in f["FailedAndUnresolvableNodes"]["node-xid"]
            assert sorted(f["NodeNames"]) == ["node-hot", "node-idle"]

            def scores() -> dict[str, int]:
                return {h["Host"]: h["Score"] for h in c.post("/prioritize", content=body).json()}

            # A reading older than max_age_s counts as unknown (neutral): on a loaded machine a
            # scrape can come late, so ask again until a fresh reading is there to compare.
            got = scores()
            while got["node-hot"] >= got["node-idle"] and time.monotonic() < deadline + 20:
                time.sleep(0.5)
                got = scores()
            assert got["node-hot"] < got["node-idle"]
            metrics = c.get("/metrics").text
            assert 'tessera_telemetry_source_up{kind="prometheus"} 1.0' in metrics
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)


def test_unhealthy_never_chosen_loaded_scores_lower_then_stale_fallback(stack: dict) -> None:
    prom: PrometheusServer = stack["prom"]
    hub = TelemetryHub([PrometheusSource(prom.url, max_age_s=MAX_AGE_S)])
    _wait_for_all(hub)

    # The raw A800 sample fails Prometheus's parser (why the direct-scrape source is tolerant).
    up = {r["metric"]["job"]: float(r["value"][1]) for r in prom.query("up")}
    assert up["dcgm-raw"] == 0.0 and up["dcgm"] == 1.0 and up["tessera-agent"] == 1.0

    # DCGM through Prometheus: MIG GPU 0's power is one value, not the sum over its 3 GIs.
    dcgm0 = hub.gpu_telemetry(time.time())[(A800_HOST, 0)][1]
    assert dcgm0 is not None and dcgm0.power_w == pytest.approx(78.174)
    assert dcgm0.memory_used_mib == 30  # 3 GIs x 10 MiB

    for _ in range(5):  # several rounds with live data
        now = time.time()
        hub.refresh(now)
        state = hub.overlay(_state(now))
        hot = state.nodes["node-hot"].gpus[0]
        assert hot.load is not None and hot.load.utilization_pct >= 99  # the recorded matmul
        best, scores, statuses = _best(state, _pod("latency"))
        assert statuses["node-xid"].code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE
        assert "XID 79" in statuses["node-xid"].message
        assert scores["node-hot"] < scores["node-idle"]
        assert best == "node-idle"
        best_batch, _, _ = _best(state, _pod("batch"))
        assert best_batch == "node-hot"  # batch packs onto the busy GPU, still not node-xid
        time.sleep(0.3)

    # Stop Prometheus mid-run: the source fails, its data ages out, scheduling goes on.
    prom.stop()
    hub.refresh(time.time())
    [status] = hub.statuses()
    assert status.last_error is not None
    time.sleep(MAX_AGE_S + 1.0)
    now = time.time()
    hub.refresh(now)
    state = hub.overlay(_state(now))
    assert all(n.gpus[0].load is None for n in state.nodes.values())  # unknown, not idle
    best, scores, statuses = _best(state, _pod("latency"))
    assert scores["node-hot"] == scores["node-idle"]  # allocation alone: both empty
    assert statuses["node-idle"].ok and statuses["node-hot"].ok
    assert best != "node-xid" and statuses["node-xid"].code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE
