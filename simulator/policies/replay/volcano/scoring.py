"""Node scores of the Helm configuration: nodeorder (k8s scorers x weights) + binpack, summed.

Both see in-cycle placements (`node.used`), as Volcano's shared NodeInfo does (reference 8.2).
"""

from __future__ import annotations

import math

from simulator.cluster.resources import CPU, GPU, MEMORY
from simulator.policies.replay.volcano.config import VolcanoConfig
from simulator.policies.replay.volcano.objects import Node, Task

MAX_NODE_SCORE = 100


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


def balanced_allocation(node: Node, task: Task) -> int:
    """BalancedAllocation over cpu, memory and nvidia.com/gpu: int((1 - std) * 100).

    A scalar resource the pod does not request, or one the node lacks, is skipped (k8s
    `calculateResourceAllocatableRequest`); fractions are capped at 1.
    """
    fracs = []
    for dim in (CPU, MEMORY, GPU):
        pod_req = task.resreq.get(dim, 0)
        if dim == GPU and pod_req == 0:
            continue
        cap = node.allocatable.get(dim, 0)
        if cap == 0:
            continue
        fracs.append(min(1.0, (node.used.get(dim, 0) + pod_req) / cap))
    if len(fracs) < 2:
        std = 0.0
    elif len(fracs) == 2:
        std = abs(fracs[0] - fracs[1]) / 2
    else:
        mean = sum(fracs) / len(fracs)
        std = math.sqrt(sum((f - mean) ** 2 for f in fracs) / len(fracs))
    return int((1 - std) * MAX_NODE_SCORE)


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
        score += w * used / cap
    if wsum == 0:
        return 0.0
    return score / wsum * MAX_NODE_SCORE * cfg.binpack_weight


def node_score(cfg: VolcanoConfig, node: Node, task: Task) -> float:
    s = float(
        cfg.leastrequested_weight * least_allocated(node, task)
        + cfg.balancedresource_weight * balanced_allocation(node, task)
    )
    if cfg.mostrequested_weight:
        s += cfg.mostrequested_weight * most_allocated(node, task)
    return s + binpack(cfg, node, task)
