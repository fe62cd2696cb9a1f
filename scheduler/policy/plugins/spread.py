"""Score (example, not in the default profile): prefer the node whose GPUs are least used now.

The opposite of Binpack, for clusters that value headroom over packing (e.g. latency-bound
inference spread across nodes). Value = (1 - mean used fraction of the node's usable GPUs,
before this pod) ** `power`; a node with no usable GPU scores 0. Enable it with a weight:
`build_profile(weights={..., "Spread": 1.0}, args={"Spread": SpreadArgs(power=2.0)})`.

It is the worked example of docs/extending.md ("A new score plugin"): a per-node `score`, a
batch `score_rows` over the fleet index reading the same settings, and one registry line.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scheduler.policy.capacity import gpu_used_fraction
from scheduler.policy.interfaces import CycleState, Floats
from scheduler.policy.model import ClusterState, Node, PodRequest


@dataclass(frozen=True)
class SpreadArgs:
    power: float = 1.0  # > 1 favours idle nodes more sharply


class SpreadScore:
    name = "Spread"
    state_only = True  # score_rows reads only the row's index columns (ScorePlugin)

    def __init__(self, args: SpreadArgs | None = None) -> None:
        self.args = args or SpreadArgs()

    def score(
        self, state: ClusterState, pod: PodRequest, node: Node, cycle: CycleState | None = None
    ) -> float:
        gpus = state.capacity(node.name).usable_gpus
        if not gpus:
            return 0.0
        used = sum(gpu_used_fraction(g) for g in gpus) / len(gpus)
        return float((1.0 - used) ** self.args.power)

    def score_rows(self, cycle: CycleState) -> Floats | None:
        # `used_sum` / `n_usable`: the same sum and count `score` takes, one row per node.
        idx, r = cycle.index, cycle.rows
        n = idx.n_usable[r].astype(np.float64)
        free = 1.0 - idx.used_sum[r] / np.maximum(n, 1)
        out: Floats = np.where(n > 0, np.maximum(free, 0.0) ** self.args.power, 0.0)
        return out
