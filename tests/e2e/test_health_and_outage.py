"""Scenarios d and e: an unhealthy GPU is avoided; with Tessera down (ignorable: false) GPU pods
wait and none is misplaced, and they schedule once it is back."""

from __future__ import annotations

import pytest

from devcluster.nodes import GpuSpec, NodeSpec, pod_object
from tests.e2e.helpers import (
    add_nodes,
    failed_scheduling,
    node_of,
    placement,
    stays_unbound,
    wait_bound,
)

pytestmark = pytest.mark.e2e


def test_node_with_unhealthy_gpu_is_avoided(tessera_cluster):
    api = tessera_cluster().api
    sick = GpuSpec(ecc_uncorrectable=3)  # uncorrectable ECC errors: the GPU offers nothing
    add_nodes(api, [NodeSpec(f"sick-{i}", gpus=[sick]) for i in range(3)])
    add_nodes(api, [NodeSpec("healthy", gpus=[GpuSpec()])])
    # The in-tree fit sees 4 free nvidia.com/gpu; only Tessera knows 3 of them are broken.
    api.create_pod(pod_object("first", {"nvidia.com/gpu": "1"}))
    assert wait_bound(api, ["first"]) == {"first": "healthy"}
    assert placement(api, "first").node == "healthy"
    api.create_pod(pod_object("second", {"nvidia.com/gpu": "1"}))
    failed_scheduling(api, "second")
    assert node_of(api, "second") is None, "a pod was placed on a GPU with ECC errors"


def test_tessera_down_gpu_pods_wait_then_schedule_when_it_is_back(tessera_cluster):
    cluster = tessera_cluster(ignorable=False, http_timeout="2s")
    api = cluster.api
    add_nodes(api, [NodeSpec("n0", gpus=[GpuSpec()] * 2)])
    cluster.stop_tessera()
    gpu_pods = ["gpu-0", "gpu-1"]
    for name in gpu_pods:
        api.create_pod(pod_object(name, {"nvidia.com/gpu": "1"}))
    api.create_pod(pod_object("cpu-only", {"cpu": "1"}))  # not a managed resource: unaffected
    assert wait_bound(api, ["cpu-only"]) == {"cpu-only": "n0"}
    message = failed_scheduling(api, "gpu-0")
    assert "extender" in message.lower() or "connect" in message.lower(), message
    assert stays_unbound(api, gpu_pods, seconds=5) == []

    cluster.start_tessera()
    wait_bound(api, gpu_pods, timeout_s=120)
    grants = [(placement(api, n).node, placement(api, n).gpus[0].index) for n in gpu_pods]
    assert sorted(grants) == [("n0", 0), ("n0", 1)], "each pod gets its own GPU"


def test_tessera_down_with_ignorable_true_gpu_pods_schedule_without_it(tessera_cluster):
    cluster = tessera_cluster(ignorable=True, http_timeout="2s")
    api = cluster.api
    add_nodes(api, [NodeSpec("n0", gpus=[GpuSpec()] * 2)])
    cluster.stop_tessera()
    api.create_pod(pod_object("gpu-0", {"nvidia.com/gpu": "1"}))
    # The scheduler skips the failing extender and binds with its default binder: the pod runs
    # where the in-tree fit put it, with no Tessera placement recorded.
    assert wait_bound(api, ["gpu-0"]) == {"gpu-0": "n0"}
    assert "tessera.io/placement" not in (api.pod("gpu-0")["metadata"].get("annotations") or {})
