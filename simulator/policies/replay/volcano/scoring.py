"""Node scores of the Helm configuration: nodeorder (k8s scorers x weights) + binpack, summed.

Both see in-cycle placements (`node.used`), as Volcano's shared NodeInfo does (reference 8.2).
The k8s scorers are those of `k8s.io/kubernetes` v1.36.1, the module Volcano `ed72c7c` builds
with (`pkg/scheduler/framework/plugins/noderesources/`); kube-scheduler v1.37.2 has the same.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from simulator.cluster.resources import CPU, GPU, MEMORY
from simulator.policies.replay.volcano.config import VolcanoConfig
from simulator.policies.replay.volcano.objects import Node, Task

MAX_NODE_SCORE = 100
# NodeResourcesBalancedAllocation's resources: Volcano's nodeorder adds nvidia.com/gpu to
# kube-scheduler's default cpu and memory (nodeorder.go InitPlugin).
VOLCANO_BALANCED = (CPU, MEMORY, GPU)
KUBE_BALANCED = (CPU, MEMORY)


def least_allocated(node: Node, task: Task) -> int:
    """NodeResourcesFit LeastAllocated, cpu 50 / memory 50: integer weighted average of
    (capacity - requested) * 100 // capacity, requested including this pod."""
    num = den = 0
    for dim, w in ((CPU, 50), (MEMORY, 50)):
        cap = node.allocatable.get(dim, 0)
        req = node.used.get(dim, 0) + task.resreq.get(dim, 0)
        s = 0 if cap == 0 or req > cap else (cap - req) * MAX_NODE_SCORE // cap
        num += s * w
        den += w
    return num // den


def most_allocated(node: Node, task: Task) -> int:
    """MostAllocated, cpu 1 / memory 1 (only scored when its weight is non-zero)."""
    num = den = 0
    for dim in (CPU, MEMORY):
        cap = node.allocatable.get(dim, 0)
        req = min(node.used.get(dim, 0) + task.resreq.get(dim, 0), cap)
        num += 0 if cap == 0 else req * MAX_NODE_SCORE // cap
        den += 1
    return num // den


def balance(fractions: Sequence[float]) -> int:
    """balancedResourceScore: int((1 - std) * 100) over per-resource used fractions (capped
    at 1); two resources: std = |f1 - f2| / 2, as the k8s code special-cases it."""
    if len(fractions) == 2:
        std = abs((fractions[0] - fractions[1]) / 2)
    elif len(fractions) > 2:
        mean = sum(fractions) / len(fractions)
        std = math.sqrt(sum((f - mean) * (f - mean) for f in fractions) / len(fractions))
    else:
        std = 0.0
    return int((1 - std) * MAX_NODE_SCORE)


def balanced_allocation(node: Node, task: Task, resources: Sequence[str] = VOLCANO_BALANCED) -> int:
    """BalancedAllocation since k8s v1.36: how much placing the pod improves the node's balance,
    `50 + (50 + balance(with pod) - balance(without pod)) // 2` (range 50..100; 75 = no change).

    A scalar resource the pod does not request, or one the node lacks, is left out of both
    (k8s `calculateNodeAllocatableRequest`).
    """
    with_pod: list[float] = []
    without: list[float] = []
    for dim in resources:
        req = task.resreq.get(dim, 0)
        if req == 0 and dim not in (CPU, MEMORY):
            continue
        cap = node.allocatable.get(dim, 0)
        if cap == 0:
            continue
        used = node.used.get(dim, 0)
        with_pod.append(min(1.0, (used + req) / cap))
        without.append(min(1.0, used / cap))
    half = MAX_NODE_SCORE // 2
    return half + (half + balance(with_pod) - balance(without)) // 2


def binpack(cfg: VolcanoConfig, node: Node, task: Task) -> float:
    """100 * W * sum_r w_r (used_r + req_r) / alloc_r / sum_r w_r over requested, weighted
    resources; 0 if any of them would overflow; alloc 0 contributes 0 but keeps its weight."""
    if cfg.binpack_weight == 0:
        return 0.0
    score = 0.0
    wsum = 0
    for dim, req in task.resreq.items():
        w = cfg.binpack_resources.get(dim)
        if req <= 0 or w is None:
            continue
        wsum += w
        cap = node.allocatable.get(dim, 0)
        if cap == 0:
            continue
        used = node.used.get(dim, 0) + req
        if used > cap:
            return 0.0
        score += used * w / cap
    if wsum:
        score /= wsum
    return score * (MAX_NODE_SCORE * cfg.binpack_weight)


def nodeorder(cfg: VolcanoConfig, node: Node, task: Task) -> int:
    """The batch k8s scorers, each x its weight. TaintToleration normalises to 100 on every
    node without PreferNoSchedule taints (x 3); NodeAffinity, InterPodAffinity and
    PodTopologySpread skip pods without affinities or spread constraints (PreScore Skip), and
    ImageLocality is 0 on nodes that report no images: the GPU pods here have none of those."""
    s = (cfg.leastrequested_weight * least_allocated(node, task)
         + cfg.balancedresource_weight * balanced_allocation(node, task)
         + cfg.tainttoleration_weight * MAX_NODE_SCORE)  # fmt: skip
    if cfg.mostrequested_weight:
        s += cfg.mostrequested_weight * most_allocated(node, task)
    return s


def node_score(cfg: VolcanoConfig, node: Node, task: Task) -> float:
    """util.PrioritizeNodes: 0 + per-node NodeOrderFns (binpack) + BatchNodeOrderFn (nodeorder),
    in float64 and in that order, so equal totals (ties) come out exactly as Volcano's do."""
    return 0.0 + binpack(cfg, node, task) + float(nodeorder(cfg, node, task))
