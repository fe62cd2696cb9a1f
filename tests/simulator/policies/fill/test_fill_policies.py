"""Each FGD-paper baseline on tiny hand-built states, with the scorer's arithmetic in comments."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.policies.fill.base import FillContext, pick_max
from simulator.policies.fill.registry import FILL_POLICIES, make_fill_policy
from tests.simulator.fgd_fill.builders import cluster, node, pod

RNG = np.random.default_rng(0)


def choose(policy: str, c, p, trace=()):
    chooser = make_fill_policy(policy, FillContext(c, tuple(trace) or (p,)))
    return chooser.choose(c, p, c.feasible(p), RNG)


def test_bestfit_prefers_the_tighter_node():
    c = cluster(node("a", cpu=8000), node("b", cpu=32000))
    # a: 1 - 0.5*((8000-4000)/128000 + (2000-500)/8000) = 1 - 0.5*(0.03125+0.1875) = 0.8906 -> 89
    # b: 1 - 0.5*((32000-4000)/128000 + 0.1875) = 1 - 0.5*(0.21875+0.1875) = 0.7969 -> 79
    assert choose("bestfit", c, pod("p", milli=500, cpu=4000)) == (0, (0,))


def test_dotprod_prefers_the_smaller_product():
    c = cluster(node("a", cpu=8000), node("b", cpu=32000))
    # a: (8000/128000*4000/128000 + 2000/8000*500/8000)/2 = (0.00195+0.01563)/2 -> int(99.1) = 99
    # b: (32000/128000*4000/128000 + 0.01563)/2 = (0.00781+0.01563)/2 -> int(98.8) = 98
    assert choose("dotprod", c, pod("p", milli=500, cpu=4000))[0] == 0


def test_packing_prefers_a_shared_gpu():
    c = cluster(node("idle"), node("used"))
    c.place(pod("x", milli=700), 1, (0,))  # node "used": GPU 0 has 300 left
    # used: share GPU 0 (300 >= 250): 100 - (300*100//1000)//10 = 97; idle: max(33-2, 2) = 31
    assert choose("packing", c, pod("p", milli=250)) == (1, (0,))
    # A whole GPU: used node needs its free GPU: max(50 - 1, 33) = 49 > idle 31.
    assert choose("packing", c, pod("q"))[0] == 1


def test_clustering_keeps_classes_together():
    c = cluster(node("mixed"), node("idle"), node("share-only"))
    c.place(pod("w"), 0, (0,))  # a 1-gpu pod
    c.place(pod("s1", milli=300), 0, (1,))  # and a share pod: two classes
    c.place(pod("s2", milli=300), 2, (0,))  # share pods only
    # share pod: share-only 75 + 25*(8000-1700)//8000 = 75+19 = 94; mixed 50 + 25*(8000-700)//8000
    # = 50+22 = 72; idle 25 + 25*6000//8000 = 25+18 = 43 (free milli over the 8000 normaliser)
    assert choose("clustering", c, pod("p", milli=200))[0] == 2
    # A 2-gpu pod (a class nobody has) only fits the idle node.
    assert choose("clustering", c, pod("q", num_gpu=2)) == (1, (0, 1))


def test_fgd_fills_the_gpu_that_would_otherwise_be_a_fragment():
    # Target workload: only 600-milli tasks. Node a's GPU has 400 left: useless to them (frag
    # 400). Putting a 400 pod there: frag 400 -> 0, score int(100*sigmoid(0.4)) = 59. Node b
    # (1000 free): frag 0 -> 0 (600 left still hosts a 600 task), score 50.
    c = cluster(node("a", gpus=1), node("b", gpus=1))
    c.place(pod("x", milli=600), 0, (0,))
    trace = [pod(f"t{i}", milli=600) for i in range(5)]
    assert choose("fgd", c, pod("p", milli=400, cpu=0), trace) == (0, (0,))


def test_fgd_picks_the_gpu_within_a_node():
    # GPU 1 already holds a 300 pod (700 left); the workload is 500-milli tasks. A 500 pod on
    # GPU 1 leaves [1000, 200]: 200 milli no task can use (frag +200); on GPU 0 it leaves
    # [500, 700]: both still host a 500 task (frag 0). FGD takes GPU 0.
    c = cluster(node("a", gpus=2))
    c.place(pod("x", milli=300), 0, (1,))
    trace = [pod(f"t{i}", milli=500) for i in range(3)]
    assert choose("fgd", c, pod("p", milli=500, cpu=0), trace) == (0, (0,))


def test_random_is_feasible_and_seeded():
    c = cluster(node("a", gpus=1), node("b", gpus=4), node("c", gpus=4))
    p = pod("p", num_gpu=4)
    chooser = make_fill_policy("random", FillContext(c, (p,)))
    picks = {chooser.choose(c, p, c.feasible(p), np.random.default_rng(s))[0] for s in range(20)}
    assert picks == {1, 2}  # never node a (one GPU), both 4-GPU nodes over 20 seeds


def test_ties_go_to_the_lowest_rank():
    nodes = np.array([3, 5, 7])
    rank = np.array([9, 9, 9, 2, 9, 1, 9, 0])
    assert pick_max(nodes, np.array([10, 10, 10]), rank) == 7  # rank 0
    assert pick_max(nodes, np.array([10, 11, 10]), rank) == 5


def _numpy_reference_pick_max(nodes: np.ndarray, scores: np.ndarray, rank: np.ndarray) -> int:
    """The numpy steps `pick_max`'s kernel replaced (commit c81759e)."""
    top = nodes[scores == np.maximum.reduce(scores)]
    return int(top[0]) if top.size == 1 else int(top[rank[top].argmin()])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 9), st.integers(-3, 3)), min_size=1, max_size=30),
       st.lists(st.integers(0, 4), min_size=10, max_size=10))  # fmt: skip
def test_pick_max_kernel_equals_the_numpy_steps(picks, ranks):
    # repeated nodes, tied scores and tied ranks included
    nodes = np.array([n for n, _ in picks], np.int64)
    scores = np.array([s for _, s in picks], np.int64)
    rank = np.array(ranks, np.int64)
    assert pick_max(nodes, scores, rank) == _numpy_reference_pick_max(nodes, scores, rank)


def test_pick_max_refuses_no_candidates():
    with pytest.raises(ValueError, match="0 nodes"):
        pick_max(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(3, np.int64))


def test_unknown_policy_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown fill policy 'tetris'; known: random, dotprod"):
        make_fill_policy("tetris", FillContext(cluster(node("a")), ()))


@pytest.mark.parametrize("policy", list(FILL_POLICIES))
def test_every_policy_respects_model_constraints(policy):
    c = cluster(node("t4", model="T4"), node("v100", model="V100M16"))
    p = pod("p", milli=500, spec="V100M16|V100M32")
    trace = [p, pod("q", milli=300)]
    assert choose(policy, c, p, trace)[0] == 1


def test_tessera_adapter_places_through_the_policy_core():
    # Two 2-GPU T4 nodes; node 1 already has a 600 share on GPU 0. A 400 share: the policy core
    # (binpack + fragmentation) prefers filling that GPU exactly (node 1, GPU 0, 0 left) over
    # opening a fresh GPU; the adapter mirrors the bind into its SimCluster.
    c = cluster(node("a"), node("b"))
    trace = [pod("x", milli=600), pod("p", milli=400)]
    chooser = make_fill_policy("tessera", FillContext(c, tuple(trace)))
    first = chooser.choose(c, trace[0], c.feasible(trace[0]), RNG)
    c.place(trace[0], *first)
    second = chooser.choose(c, trace[1], c.feasible(trace[1]), RNG)
    assert second == first  # same node, same GPU: 600 + 400 = 1000
    assert len(chooser.sim.allocations) == 2  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("p", "kind", "count", "milli", "allowed"),
    [
        (pod("cpu", num_gpu=0), None, None, None, None),
        (pod("share", milli=470), "milli", 1, 470, None),
        (pod("whole8", num_gpu=8), "whole", 8, 0, None),
        (pod("spec", milli=250, spec="V100M16|V100M32"), "milli", 1, 250, {"V100M16", "V100M32"}),
    ],
)
def test_openb_pods_become_policy_core_requests(p, kind, count, milli, allowed):
    from simulator.policies.fill.tessera_fill import MIB, pod_request

    req = pod_request(p)
    assert (req.cpu_milli, req.memory_bytes) == (p.cpu_milli, p.memory_mib * MIB)
    if kind is None:
        assert req.gpu is None
    else:
        assert req.gpu is not None
        assert (req.gpu.kind, req.gpu.count, req.gpu.milli) == (kind, count, milli)
    assert req.allowed_products == (None if allowed is None else frozenset(allowed))
