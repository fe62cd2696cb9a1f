"""Two Tessera replicas against one apiserver with `replica_lease`: exactly one is ready (and
serves the verbs); when it dies, the standby takes the Lease and becomes ready within the lease
duration. Without the setting two replicas would both answer and could double-book."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from devcluster.cluster import TESSERA_SERVE, ClusterOptions, DevCluster
from devcluster.kubeapi import wait_for
from devcluster.procs import free_port
from tests.e2e.conftest import tessera_env

pytestmark = pytest.mark.e2e


def ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_only_the_lease_holder_is_ready_and_a_standby_takes_over(
    k8s_bin_dir: Path, tmp_path: Path
) -> None:
    cfg = tmp_path / "tessera.yaml"
    cfg.write_text("replica_lease: kube-system/tessera-extender\n")
    argv = (*TESSERA_SERVE, "--config", str(cfg))
    opts = ClusterOptions(bin_dir=k8s_bin_dir, tessera_env=tessera_env(), tessera_argv=argv)
    with DevCluster(opts) as cluster:  # waits until the first replica is ready: it leads
        first = cluster.tessera_url
        port = free_port()
        second = f"http://127.0.0.1:{port}"
        cluster.launch("tessera-2", [*argv, "--kubeconfig", str(cluster.kubeconfig),
                                      "--host", "127.0.0.1", "--port", str(port)],
                        env=opts.tessera_env)  # fmt: skip
        wait_for("second replica serving", lambda: _answers(second), timeout_s=90)
        for _ in range(10):  # the standby stays out while the leader renews (5 s period)
            assert ready(first) and not ready(second)
            assert httpx.post(f"{second}/filter", content=b"{}").status_code == 503
            time.sleep(1)
        lease = cluster.api.request(
            "GET", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/tessera-extender"
        )
        assert lease["spec"]["leaseDurationSeconds"] == 15
        cluster.stop_tessera()  # the leader dies without releasing
        wait_for("standby ready", lambda: ready(second) or None, timeout_s=60)


def _answers(url: str) -> bool | None:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200 or None
    except httpx.HTTPError:
        return None
