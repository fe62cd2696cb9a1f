"""Explicit registry of the replay policies (no discovery, no magic).

``REPLAY_POLICIES``: what `tessera simulate replay --policies` and `compare` accept. Each factory
takes the workload (its nodes) and the run's seed (for policies that sample nodes at random).
"""

from __future__ import annotations

import random
from collections.abc import Callable

from simulator.policies.replay.kube_default import KubeDefaultPolicy
from simulator.policies.replay.tessera import TesseraPolicy
from simulator.policies.replay.volcano.policy import VolcanoPolicy
from simulator.replay.protocol import ReplayPolicy
from simulator.workloads.model import Workload

REPLAY_POLICIES: dict[str, Callable[[Workload, int], ReplayPolicy]] = {
    "tessera": lambda w, seed: TesseraPolicy(w.nodes, dynamic_mig=True),
    "tessera-static": lambda w, seed: TesseraPolicy(w.nodes, dynamic_mig=False),
    "volcano": lambda w, seed: VolcanoPolicy(w.nodes, random.Random(seed)),
    "kube-default": lambda w, seed: KubeDefaultPolicy(w.nodes, random.Random(seed)),
}
DEFAULT_POLICIES = ("tessera", "tessera-static", "volcano", "kube-default")


def parse_policies(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise ValueError("--policies is empty; known: " + ", ".join(REPLAY_POLICIES))
    for n in names:
        if n not in REPLAY_POLICIES:
            raise ValueError(f"unknown replay policy {n!r}; known: {', '.join(REPLAY_POLICIES)}")
    return names


def make_replay_policy(name: str, workload: Workload, seed: int) -> ReplayPolicy:
    try:
        factory = REPLAY_POLICIES[name]
    except KeyError:
        raise ValueError(
            f"unknown replay policy {name!r}; known: {', '.join(REPLAY_POLICIES)}"
        ) from None
    return factory(workload, seed)
