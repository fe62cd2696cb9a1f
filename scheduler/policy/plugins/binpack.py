"""Score: prefer nodes whose GPUs end up fuller (keeps whole nodes and GPUs free for big pods)."""

from __future__ import annotations

from scheduler.policy.capacity import gpu_used_fraction
from scheduler.policy.framework import choose_placement
from scheduler.policy.model import ClusterState, Node, PodRequest


class Binpack:
    name = "Binpack"

    def __init__(self, args: None = None) -> None:
        """Takes no settings (the registry's factory call)."""

    def score(self, state: ClusterState, pod: PodRequest, node: Node) -> float:
        cap = state.capacity(node.name)
        gpus = cap.usable_gpus
        if not gpus:
            return 0.0
        placement = choose_placement(state, pod, node)
        grants = placement.gpus if placement is not None else ()
        # Mean used fraction over the node's usable GPUs after placing the pod.
        return sum(gpu_used_fraction(g, grants) for g in gpus) / len(gpus)
