"""The node agent against a real kube-apiserver: `tessera agent` (replaying the recorded H100,
one node with an XID 79 fault drill) patches `tessera.io/gpus`, Tessera's watch picks it up,
and kube-scheduler + Tessera keep pods off the faulted GPU."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from devcluster.kubeapi import wait_for
from devcluster.nodes import GpuSpec, NodeSpec, pod_object
from tests.conftest import SHARED
from tests.e2e.conftest import tessera_env
from tests.e2e.helpers import add_nodes, failed_scheduling, node_of, wait_bound

pytestmark = pytest.mark.e2e
H100 = SHARED / "fixtures" / "nvml" / "h100-80gb-hbm3"
UUID = "GPU-3d950e61-fc9d-ffc5-3c1e-8b3db20ef80a"


def _agent(kubeconfig: Path, node: str, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli.main",
            "agent",
            "--node-name",
            node,
            "--nvml-replay",
            str(H100),
            "--port",
            "0",
            "--host",
            "127.0.0.1",
            "--interval",
            "0.5",
            "--publish",
            "on",
            "--kubeconfig",
            str(kubeconfig),
            *extra,
        ],
        env=tessera_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_agent_annotation_keeps_pods_off_a_faulted_gpu(tessera_cluster) -> None:
    cluster = tessera_cluster()
    api = cluster.api
    add_nodes(api, [NodeSpec("good", gpus=[GpuSpec()]), NodeSpec("bad", gpus=[GpuSpec()])])
    agents = [
        _agent(cluster.kubeconfig, "good"),
        _agent(cluster.kubeconfig, "bad", "--inject-xid", "79"),
    ]
    try:

        def published(node: str) -> dict | None:
            ann = api.request("GET", f"/api/v1/nodes/{node}")["metadata"].get("annotations", {})
            doc = json.loads(ann.get("tessera.io/gpus", "{}"))
            gpus = doc.get("gpus") or [{}]
            return doc if gpus[0].get("uuid") == UUID else None  # the agent's, not the spec's

        bad = wait_for("agent annotation on bad", lambda: published("bad"), 60)
        wait_for("agent annotation on good", lambda: published("good"), 60)
        assert bad["gpus"][0]["health"]["xid_recent"] == [79]
        assert bad["gpus"][0]["memory_mib"] == 81559  # the recorded H100

        api.create_pod(pod_object("first", {"nvidia.com/gpu": "1"}))
        assert wait_bound(api, ["first"]) == {"first": "good"}
        api.create_pod(pod_object("second", {"nvidia.com/gpu": "1"}))
        message = failed_scheduling(api, "second")
        assert node_of(api, "second") is None, "a pod was placed on the GPU with XID 79"
        assert "XID 79" in message, message
    finally:
        for a in agents:
            a.terminate()
            a.wait(timeout=15)
