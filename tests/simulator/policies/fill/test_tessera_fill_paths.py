"""tessera's fill runs give the same placements whichever path the policy core takes.

One-sentence property: filling any small openb-like cluster with any pod list, the tessera fill
policy places every pod on the same node and GPUs when the policy core answers from its fleet
index (the batch path, what the fill experiment runs) as when every plugin judges every node
one by one (`Profile(batch=False)`).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.fgd_fill.cluster import FillCluster
from simulator.policies.fill.base import FillContext
from simulator.policies.fill.tessera_fill import TesseraFill
from tests.simulator.fgd_fill.builders import node, pod

MODELS = ("T4", "V100M16", "G2", "P100")  # none is in the MIG catalogue, as in openb
SHAPES = ((0, 0), (1, 250), (1, 500), (1, 1000), (2, 1000), (4, 1000), (8, 1000), (1, 100))


def _fill(nodes, pods, per_node: bool) -> list[tuple[str, int, tuple[int, ...], int]]:
    cluster = FillCluster(nodes)
    chooser = TesseraFill(FillContext(cluster, tuple(pods)))
    if per_node:
        chooser.profile = replace(chooser.profile, batch=False)
    rng = np.random.default_rng(0)
    for p in pods:
        feasible = cluster.feasible(p)
        if feasible.size:
            cluster.place(p, *chooser.choose(cluster, p, feasible, rng))
    return cluster.placements


@settings(max_examples=12, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_batch_and_per_node_paths_place_identically(seed: int) -> None:
    rng = np.random.default_rng(seed)
    nodes = []
    for i in range(12):
        gpus, cpu = int(rng.choice([1, 2, 4, 8])), int(rng.choice([8, 32, 96])) * 1000
        nodes.append(node(f"n{i:02d}", gpus=gpus, cpu=cpu, model=MODELS[int(rng.integers(4))]))
    pods = []
    for i in range(90):
        count, milli = SHAPES[int(rng.integers(len(SHAPES)))]
        spec = "V100M16|P100" if count and rng.random() < 0.2 else ""
        cpu = int(rng.choice([1, 4, 12])) * 1000
        pods.append(pod(f"p{i:03d}", num_gpu=count, milli=milli, cpu=cpu, spec=spec))
    fast = _fill(nodes, pods, per_node=False)
    assert len(fast) > 20  # the fill places pods (and keeps placing after the first binds)
    assert fast == _fill(nodes, pods, per_node=True)
