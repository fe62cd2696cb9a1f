"""Replay runs by policy name, and the bundled default study behind `tessera simulate compare`."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from importlib import resources

from simulator.policies.kube_default import KubeDefaultPolicy
from simulator.policies.tessera import TesseraPolicy
from simulator.policies.volcano.policy import VolcanoPolicy
from simulator.replay.driver import ReplayResult, replay
from simulator.replay.protocol import ReplayPolicy
from simulator.workloads.model import Workload
from simulator.workloads.synthetic import generate
from simulator.workloads.traces import tiresias

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


def run_policies(
    workload: Workload, names: Sequence[str], *, seed: int = 0, debug: bool = False
) -> list[ReplayResult]:
    return [
        replay(workload, REPLAY_POLICIES[n](workload, seed), seed=seed, debug=debug) for n in names
    ]


def bundled_workloads(seed: int = 0) -> list[Workload]:
    """The default study: a synthetic multimodal day on 16 x 8 H100 (4 nodes half MIG), and
    the bundled Tiresias 60-job trace on 2 x 8 H100."""
    csv = resources.files("simulator.workloads").joinpath("tiresias_60_job.csv")
    with resources.as_file(csv) as path:
        tir = tiresias(path)
    return [generate(seed=seed, jobs=400, nodes=16, mig_nodes=4, mean_interarrival_s=300.0), tir]


def compare(seed: int = 0, debug: bool = False) -> list[ReplayResult]:
    out: list[ReplayResult] = []
    for w in bundled_workloads(seed):
        out.extend(run_policies(w, DEFAULT_POLICIES, seed=seed, debug=debug))
    return out
