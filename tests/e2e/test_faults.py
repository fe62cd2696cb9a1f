"""Faults on the real control plane (etcd, kube-apiserver, kube-scheduler, `tessera serve`).

One cluster serves every scenario (each on its own nodes), to keep CI time small. After each:
no GPU double-booked (annotated placements and pods charged by their requests, per GPU and per
node), no pod lost (every pod that fits is bound), no reservation left (the reserved gauge back
to 0) and Tessera ready. `test_zz_fault_table` prints scenarios x runs x failures and fails if
any scenario failed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from devcluster.cluster import ClusterOptions, DevCluster
from devcluster.kubeapi import wait_for
from devcluster.nodes import GpuSpec, NodeSpec, pod_object
from scheduler.state import placement as placement_codec
from tests.e2e.conftest import tessera_env
from tests.e2e.faults import Tally, burst, check_invariants, delete_pods, milli_pod
from tests.e2e.helpers import add_nodes

pytestmark = pytest.mark.e2e
TALLY = Tally()


@pytest.fixture(scope="module")
def cluster(k8s_bin_dir: Path) -> Iterator[DevCluster]:
    c = DevCluster(ClusterOptions(bin_dir=k8s_bin_dir, tessera_env=tessera_env()))
    try:
        c.start()
        yield c
    finally:
        c.close(keep=bool(TALLY.failures))


def scenario(cluster: DevCluster, name: str, fn: Callable[[], None]) -> None:
    # A pod left pending would take the next scenario's room.
    TALLY.run(name, fn, lambda: delete_pods(cluster.api, pending_only=True))


def test_many_fractional_pods_at_once_do_not_over_pack(cluster: DevCluster) -> None:
    """KAI-Scheduler #2153: 16 pods x 500 milli on 8 GPUs over-packed; here exactly 16 fit."""

    def run() -> None:
        api = cluster.api
        add_nodes(api, [NodeSpec("kai-a", gpus=[GpuSpec()] * 4),
                        NodeSpec("kai-b", gpus=[GpuSpec()] * 4)])  # fmt: skip
        names = burst(api, "kai", 16)
        check_invariants(cluster, {"kai-a": 4, "kai-b": 4}, names)
        api.create_pod(milli_pod("kai-extra"))  # a 17th half-GPU pod: no room left
        time.sleep(5)
        assert api.pod("kai-extra")["spec"].get("nodeName") is None

    scenario(cluster, "16 x 500 milli on 8 GPUs", run)


def test_poison_pod_during_a_burst_does_not_blind_the_watch(cluster: DevCluster) -> None:
    """Finding 1 on the real apiserver: a pod bound by nodeName with a 5,000-deep placement."""

    def run() -> None:
        api = cluster.api
        add_nodes(api, [NodeSpec("pp-a", gpus=[GpuSpec()] * 4)])
        first = burst(api, "pp1", 3)
        poison = pod_object("poison", {"nvidia.com/gpu": "1"},
                            annotations={placement_codec.ANNOTATION: "[" * 5000 + "]" * 5000})
        poison["spec"]["nodeName"] = "pp-a"  # fmt: skip
        api.create_pod(poison)
        later = burst(api, "pp2", 3)
        check_invariants(cluster, {"pp-a": 4}, first + later)
        with httpx.Client(base_url=cluster.tessera_url, timeout=10) as c:
            e = c.get("/explain", params={"pod": f"default/{later[-1]}"})
            assert e.status_code == 200  # the watch saw pods created after the poison
            assert "tessera_rejected_annotations_total" in c.get("/metrics").text

    scenario(cluster, "poison pod during a burst", run)


def test_poison_request_during_a_burst_does_not_change_the_cache(cluster: DevCluster) -> None:
    """Finding 2 on the real control plane: a full-NodeList /filter with a 64-GPU fake node."""

    def run() -> None:
        api = cluster.api
        add_nodes(api, [NodeSpec("pr-a", gpus=[GpuSpec()] * 2)])
        fake = {"metadata": {"name": "pr-a", "resourceVersion": "999999999"},
                "status": {"allocatable": {"nvidia.com/gpu": "64", "cpu": "64"}}}
        pod = {"metadata": {"name": "attacker", "namespace": "default"},
               "spec": {"containers": [{"resources": {"limits": {"nvidia.com/gpu": "8"}}}]}}
        body = json.dumps({"Pod": pod, "Nodes": {"items": [fake]}})  # fmt: skip
        names = burst(api, "pr", 6)  # 6 x 500 milli on 2 GPUs: only 4 fit
        with httpx.Client(base_url=cluster.tessera_url, timeout=10) as c:
            for _ in range(5):
                assert c.post("/filter", content=body).status_code == 200
        bound = wait_for("4 pods bound", lambda: [n for n in names if api.pod(n)["spec"].get(
            "nodeName")] if sum(1 for n in names if api.pod(n)["spec"].get("nodeName")) >= 4
            else None, timeout_s=180)  # fmt: skip
        time.sleep(5)
        bound = [n for n in names if api.pod(n)["spec"].get("nodeName")]
        assert len(bound) == 4, bound
        check_invariants(cluster, {"pr-a": 2}, bound)

    scenario(cluster, "poison request during a burst", run)


def test_apiserver_restart_mid_burst_relists_without_stale_decisions(cluster: DevCluster) -> None:
    def run() -> None:
        api = cluster.api
        add_nodes(api, [NodeSpec("ar-a", gpus=[GpuSpec()] * 2),
                        NodeSpec("ar-b", gpus=[GpuSpec()] * 2)])  # fmt: skip
        first = burst(api, "ar1", 4)
        cluster.procs.pop("kube-apiserver").stop()
        time.sleep(2)
        cluster._start_apiserver()  # same etcd, ports and certificates
        later = burst(cluster.api, "ar2", 4)  # 8 x 500 milli on 4 GPUs: all fit exactly
        check_invariants(cluster, {"ar-a": 2, "ar-b": 2}, first + later)

    scenario(cluster, "apiserver restarted mid-burst", run)


def test_zz_fault_table() -> None:
    """Scenarios x runs x failures (pytest keeps a module's order: this runs last)."""
    print("\n" + TALLY.table())
    assert TALLY.runs, "no fault scenario ran"
    assert sum(TALLY.failures.values()) == 0, dict(TALLY.failures)
