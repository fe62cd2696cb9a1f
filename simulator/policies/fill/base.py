"""What a fill-experiment policy is: given the feasible nodes for one pod, pick a node and GPUs.

Node scores are integers, as in kube-scheduler. Ties go to the best-ranked node: the published
simulator patches ``selectHost`` to take the lexicographically smallest node name among equal
scores and prefixes every node name with a random permutation index once per run, so a tie is
broken by a random but fixed-for-the-run node ranking (``FillCluster.rank``). That consistency
matters: it keeps placing onto the same nodes instead of spreading over every tied node.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from packing.fractional import GpuShare, choose_gpus
from packing.jit import kernel
from simulator.fgd_fill.cluster import FillCluster
from simulator.traces.openb import OpenbPod

Choice = tuple[int, tuple[int, ...]]  # (node index, GPU indices on it)


@dataclass(frozen=True)
class FillContext:
    cluster: FillCluster
    trace_pods: tuple[OpenbPod, ...]  # the original trace (FGD's target workload comes from it)


class FillPolicy(Protocol):
    name: str

    def choose(
        self, cluster: FillCluster, pod: OpenbPod, nodes: np.ndarray, rng: np.random.Generator
    ) -> Choice:
        """``nodes``: indices of feasible nodes (non-empty). Must return a feasible choice."""
        ...


def pick_max(nodes: np.ndarray, scores: np.ndarray, rank: np.ndarray) -> int:
    """The node with the highest score; among ties the one with the lowest ``rank`` (the
    first of them in ``nodes`` order if ranks tie too)."""
    if len(nodes) == 0 or len(scores) != len(nodes):
        raise ValueError(f"pick_max: {len(nodes)} nodes and {len(scores)} scores")
    return int(_pick_max(nodes, scores, rank))


def _pick_sample() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ints = np.array([1, 0], np.int64)
    return ints, ints, ints


@kernel(_pick_sample)
def _pick_max(nodes: np.ndarray, scores: np.ndarray, rank: np.ndarray) -> int:
    """`pick_max` in one pass over the candidates (nodes index `rank`; at least one)."""
    best = 0
    for i in range(1, len(nodes)):
        if scores[i] > scores[best] or (
            scores[i] == scores[best] and rank[nodes[i]] < rank[nodes[best]]
        ):
            best = i
    return nodes[best]


def best_fit_gpus(cluster: FillCluster, pod: OpenbPod, node: int) -> tuple[int, ...]:
    """Open-GPU-Share's "best" GPU selection: tightest GPU for a share, lowest free GPUs else."""
    if pod.num_gpu == 0:
        return ()
    chosen = choose_gpus(
        [int(g) for g in cluster.gpu_left[node]], GpuShare(pod.num_gpu, pod.gpu_milli), "best"
    )
    if chosen is None:  # pragma: no cover - nodes passed in are feasible
        raise ValueError(f"pod {pod.name} does not fit node {cluster.names[node]}")
    return chosen
