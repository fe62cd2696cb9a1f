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


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.lists(st.integers(0, 7), min_size=1, max_size=8, unique=True).map(sorted),
                  st.sampled_from([np.intp, np.int32])),
        min_size=1, max_size=12,
    ),
    st.lists(st.tuples(st.booleans(), st.booleans()), min_size=12, max_size=12),
)  # fmt: skip
def test_row_names_equal_a_fresh_lookup_whatever_came_before(asks, repeat) -> None:
    """Property: `_row_names` (which hands back its previous list when the node positions
    repeat) gives, after any sequence of asks (repeated or not, positions as intp or int32,
    whose bytes can coincide; of an index with the cluster's row order or the reverse), the
    names at those positions and their rows in the index asked about."""
    nodes = [node(f"n{i}", gpus=1 + i % 4) for i in range(8)]
    cluster = FillCluster(nodes)
    chooser = TesseraFill(FillContext(cluster, ()))
    indexes = (
        chooser.sim.snapshot(now=0.0).fleet(),
        TesseraFill(FillContext(FillCluster(nodes[::-1]), ())).sim.snapshot(now=0.0).fleet(),
    )
    prev = None
    for (positions, dtype), (again, other) in zip(asks, repeat, strict=False):
        idx = indexes[int(other)]
        ask = prev if again and prev is not None else np.array(positions, dtype)
        got = chooser._row_names(idx, ask)
        assert list(got) == [cluster.names[i] for i in ask.tolist()]
        assert got.rows.tolist() == [idx.row[cluster.names[i]] for i in ask.tolist()]
        assert got.row_map is idx.row
        prev = ask


def test_row_names_of_equal_bytes_but_other_positions_differ() -> None:
    # int32 positions [1, 0] have the bytes of intp [1] (little-endian, 64-bit): two asks.
    cluster = FillCluster([node(f"n{i}") for i in range(3)])
    chooser = TesseraFill(FillContext(cluster, ()))
    idx = chooser.sim.snapshot(now=0.0).fleet()
    assert list(chooser._row_names(idx, np.array([1], np.intp))) == ["n1"]
    assert list(chooser._row_names(idx, np.array([1, 0], np.int32))) == ["n1", "n0"]
