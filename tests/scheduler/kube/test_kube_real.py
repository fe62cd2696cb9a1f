"""The Kubernetes edge against a real etcd + kube-apiserver (the dev cluster launcher).

list+watch feeds the real `ClusterStore`; `KubeBinder` writes real Bindings. Pods use a
`schedulerName` no scheduler serves, so the cluster's own kube-scheduler leaves them alone.
Skips (or fails under CI=true) where the Kubernetes binaries cannot be built.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from scheduler.kube.binder import KubeBinder
from scheduler.kube.client import api_client
from scheduler.kube.rest import KubeRest
from scheduler.kube.watch import NODES, PODGROUPS, PODS, ApiSource, Informer, WatchGroup
from scheduler.policy.model import GpuGrant, Placement
from scheduler.state import placement as placement_codec
from scheduler.state.extender import BindError
from scheduler.state.store import ClusterStore
from tests.builders import gpu_json, node_json, pod_json
from tests.e2e.conftest import k8s_bin_dir, make_cluster  # noqa: F401  (fixtures)

pytestmark = pytest.mark.e2e


def until(what: str, check: Callable[[], Any], timeout_s: float = 30) -> Any:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_watch_and_bind_against_a_real_apiserver(make_cluster) -> None:  # noqa: F811
    cluster = make_cluster(extender=False, use_extender=False)
    api = cluster.api
    api.create_node(node_json("g1", [gpu_json(0), gpu_json(1)]))

    rest = KubeRest(api_client(cluster.kubeconfig))
    store = ClusterStore()
    source = ApiSource(rest, page_size=1)  # page size 1: the list really paginates
    group = WatchGroup([Informer(r, source, store, watch_timeout_s=5, backoff_initial_s=0.1)
                        for r in (PODGROUPS, NODES, PODS)])  # fmt: skip
    group.start()
    try:
        assert group.wait_synced(30) and group.ready()
        assert group.informers[0].absent  # no PodGroup CRD on a bare apiserver
        assert "g1" in store.snapshot(time.time()).nodes
        api.create_node(node_json("g2", [gpu_json(0)]))  # arrives by watch
        until("g2 seen", lambda: "g2" in store.snapshot(time.time()).nodes)

        pod = pod_json("train", {"nvidia.com/gpu": "1"})
        del pod["metadata"]["uid"]
        pod["spec"]["schedulerName"] = "nobody"
        created = api.create_pod(pod)
        uid = created["metadata"]["uid"]
        until("pod seen", lambda: store.pod("default/train"))

        binder = KubeBinder(rest, encode=placement_codec.encode, error=BindError)
        placement = Placement("g1", (GpuGrant(1, "GPU-0001"),))
        binder.bind("default", "train", uid, "g1", placement)
        live = api.pod("train")
        assert live["spec"]["nodeName"] == "g1"
        decoded = placement_codec.decode(live["metadata"]["annotations"]["tessera.io/placement"])
        assert decoded == placement

        # The watch folds the bound pod in: the store now charges GPU 1 of g1 to it.
        def bound() -> bool:
            rec = store.pod("default/train")
            return rec is not None and rec.allocation is not None

        until("bound pod folded", bound)
        assert store.pod("default/train").allocation.placement == placement  # type: ignore[union-attr]

        with pytest.raises(BindError, match="conflict binding pod default/train to g2"):
            binder.bind("default", "train", uid, "g2", placement)
        other = pod_json("other", {"nvidia.com/gpu": "1"})
        del other["metadata"]["uid"]
        other["spec"]["schedulerName"] = "nobody"
        api.create_pod(other)
        with pytest.raises(BindError, match="conflict|Precondition|UID"):
            binder.bind("default", "other", "not-its-uid", "g2", placement)
        with pytest.raises(BindError, match="pod not found"):
            binder.bind("default", "ghost", "", "g2", placement)

        api.delete_pod("train")
        until("pod deletion seen", lambda: store.pod("default/train") is None)
    finally:
        group.stop()
