"""`tessera dev-cluster up` as a user runs it: prints where the cluster is, serves it, and
stops every process it started on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from devcluster.kubeapi import KubeApi, wait_for
from tests.e2e.conftest import tessera_env

pytestmark = pytest.mark.e2e


def test_up_serves_a_cluster_with_gpu_nodes_and_stops_cleanly_on_sigterm(k8s_bin_dir, tmp_path):
    work = tmp_path / "cluster"
    out = tmp_path / "up.out"
    with out.open("w") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "dev-cluster", "up", "--bin-dir", str(k8s_bin_dir),
             "--nodes", "2", "--work-dir", str(work)],
            stdout=sink, stderr=subprocess.STDOUT, env=tessera_env(), start_new_session=True,
        )  # fmt: skip
    try:
        fields = wait_for("dev-cluster to print its kubeconfig", lambda: _fields(out), 180)
        kubeconfig = Path(fields["kubeconfig"])
        token = kubeconfig.read_text().split("token: ")[1].split()[0]
        api = KubeApi(fields["kube-apiserver"], token, work / "pki" / "apiserver.crt")
        names = sorted(n["metadata"]["name"] for n in api.request("GET", "/api/v1/nodes")["items"])
        assert names == ["gpu-node-0", "gpu-node-1"]
        api.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    assert code == 0, out.read_text()[-2000:]
    # Every component it started is gone: its logs stop growing and no pid is alive.
    time.sleep(1)
    leftover = subprocess.run(
        ["pgrep", "-f", str(work)], capture_output=True, text=True
    ).stdout.split()
    assert [p for p in leftover if int(p) != os.getpid()] == [], "processes left running"


def _fields(out: Path) -> dict[str, str] | None:
    lines = [line.split(None, 1) for line in out.read_text().splitlines()]
    got = {parts[0]: parts[1].strip() for parts in lines if len(parts) == 2}
    return got if "kubeconfig" in got and "kube-apiserver" in got else None
