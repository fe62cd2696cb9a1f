"""Scheduling throughput of the real kube-scheduler, with and without Tessera, on one cluster.

Pods are created while kube-scheduler is stopped, then it is started and the time from the
first to the last bind is measured by polling the apiserver (so pod creation speed is not
measured). Both runs use the same nodes, apiserver and client settings.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from devcluster.cluster import DevCluster
from devcluster.kubeapi import wait_for
from devcluster.nodes import GpuSpec, NodeSpec, node_object, pod_object


@dataclass(frozen=True)
class Run:
    mode: str  # "kube-scheduler" or "kube-scheduler + tessera"
    pods: int
    nodes: int
    seconds: float  # first bind -> last bind
    bound: int

    @property
    def pods_per_s(self) -> float:
        return self.bound / self.seconds if self.seconds > 0 else float("inf")


def add_gpu_nodes(cluster: DevCluster, count: int, gpus_per_node: int = 8) -> None:
    for i in range(count):
        spec = NodeSpec(f"tp-{i:04d}", gpus=[GpuSpec()] * gpus_per_node)
        cluster.api.create_node(node_object(spec))


def _bound_count(cluster: DevCluster) -> tuple[int, int]:
    pods = cluster.api.pods()
    return sum(1 for p in pods if p["spec"].get("nodeName")), len(pods)


def run_once(
    cluster: DevCluster, pods: int, nodes: int, use_extender: bool, node_cache_capable: bool = True
) -> Run:
    """Create `pods` one-GPU pods with the scheduler stopped, start it, time the binds."""
    api = cluster.api
    cluster.stop_scheduler()
    api.request("DELETE", "/api/v1/namespaces/default/pods", gracePeriodSeconds=0)
    wait_for("old pods deleted", lambda: not api.pods(), timeout_s=120)
    time.sleep(2.0)  # let Tessera's watch see the deletions before the next run
    for i in range(pods):
        api.create_pod(pod_object(f"tp-pod-{i:05d}", {"nvidia.com/gpu": "1"}))
    cluster.opts = replace(
        cluster.opts, use_extender=use_extender, node_cache_capable=node_cache_capable
    )
    cluster.start_scheduler()
    first: float | None = None
    last = time.monotonic()
    deadline = last + 30 + pods  # generous: at least 1 pod/s
    bound = 0
    while time.monotonic() < deadline:
        now = time.monotonic()
        bound, total = _bound_count(cluster)
        if bound and first is None:
            first = now
        if bound == total == pods:
            last = now
            break
        time.sleep(0.25)
    mode = "kube-scheduler"
    if use_extender:
        mode += " + tessera" + ("" if node_cache_capable else " (no node cache)")
    return Run(mode, pods, nodes, last - (first or last), bound)
