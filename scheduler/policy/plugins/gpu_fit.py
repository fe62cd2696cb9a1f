"""Filter: the pod's GPU request fits this node's exact free geometry (whole, MIG or milli)."""

from __future__ import annotations

from scheduler.policy.fit import check
from scheduler.policy.model import ClusterState, Node, PodRequest
from scheduler.policy.status import SUCCESS, Status


class GpuFit:
    name = "GpuFit"

    def __init__(self, args: None = None) -> None:
        """Takes no settings (the registry's factory call)."""

    def filter(self, state: ClusterState, pod: PodRequest, node: Node) -> Status:
        if pod.gpu is None:
            return SUCCESS
        return check(state.capacity(node.name), pod)
