"""The fill cluster's feasibility check answers from per-node summaries kept in step by `place`
(the most free milli on one GPU, the GPUs with a whole GPU free).

One-sentence property: after any sequence of placements, `feasible` gives exactly the nodes the
generic fit over every GPU (`packing.fractional.fits`) and the CPU, memory and model checks give
(and each node's affinity counts are its placed pods' tags).
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from packing.fractional import GpuShare, fits
from simulator.fgd_fill.cluster import AFFINITY_TAGS, FillCluster, affinity_tag
from tests.simulator.fgd_fill.builders import cluster, node, pod

shapes = st.sampled_from([(1, 1000), (1, 500), (1, 250), (1, 1), (2, 1000), (4, 1000),
                          (8, 1000), (0, 0)])  # fmt: skip


def _generic(c: FillCluster, p) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The check before the summaries: every GPU of every node asked."""
    ok = (c.cpu_left >= p.cpu_milli) & (c.mem_left >= p.memory_mib) & c.model_allowed(p)
    if p.num_gpu:
        ok &= fits(c.gpu_left, GpuShare(p.num_gpu, p.gpu_milli))
    return np.flatnonzero(ok)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 8), st.sampled_from(["T4", "V100"])), min_size=1,
             max_size=5),
    st.lists(st.tuples(shapes, st.sampled_from(["", "V100", "T4|P100"]), st.integers(0, 4)),
             max_size=25),
    st.data(),
)  # fmt: skip
def test_feasible_equals_the_generic_fit_after_any_placements(nodes, pods, data) -> None:
    c = cluster(*(node(f"n{i}", gpus=g, model=m, cpu=16_000) for i, (g, m) in enumerate(nodes)))
    placed: dict[int, list[str]] = {}
    for k, ((n, milli), spec, cpu) in enumerate(pods):
        p = pod(f"p{k}", num_gpu=n, milli=milli, cpu=cpu * 1000, spec=spec)
        got = c.feasible(p)
        assert got.tolist() == _generic(c, p).tolist()
        if got.size:
            where = int(data.draw(st.sampled_from(got.tolist())))
            free = np.flatnonzero(c.gpu_left[where] >= p.gpu_milli)[: p.num_gpu] if n else []
            c.place(p, where, [int(g) for g in free])
            assert c.violations() is None
            if n:
                placed.setdefault(where, []).append(affinity_tag(p))
        # Each node's GPU pods per affinity tag are the placed pods' tags, counted.
        for i in range(c.size):
            tags = placed.get(i, [])
            assert c.affinity[i].tolist() == [tags.count(t) for t in AFFINITY_TAGS]


def test_a_malformed_request_is_still_refused() -> None:
    import pytest

    from packing.errors import PackingError

    c = cluster(node("a"))
    with pytest.raises(PackingError):
        c.feasible(pod("bad", num_gpu=2, milli=500))  # several GPUs must be whole ones


def test_summaries_follow_a_share_and_a_whole_gpu() -> None:
    # Two T4s: a 400 share on GPU 0 leaves 600 there and 1000 on GPU 1 (max 1000, 1 idle); a
    # whole GPU on GPU 1 leaves max 600 and 0 idle, so a 700 share fits nowhere and a 600 does.
    c = cluster(node("a", gpus=2))
    c.place(pod("s", milli=400), 0, [0])
    assert (int(c.max_free[0]), int(c.idle[0])) == (1000, 1)
    c.place(pod("w", milli=1000), 0, [1])
    assert (int(c.max_free[0]), int(c.idle[0])) == (600, 0)
    assert c.feasible(pod("x", milli=700)).tolist() == []
    assert c.feasible(pod("y", milli=600)).tolist() == [0]
    assert c.feasible(pod("z", num_gpu=2, milli=1000)).tolist() == []


def test_a_refused_placement_changes_nothing() -> None:
    import pytest

    # Node a: two T4s, 600 left on GPU 0 after a 400 share; node b: eight idle T4s. A 700 share
    # on a's GPU 0, a GPU past a's two, GPU -1 of b (the last, were it read as Python counts),
    # a's GPU 1 twice, and GPUs 1 and 0 of a for two whole GPUs are each refused, and every
    # array stays as it was.
    c = cluster(node("a", gpus=2), node("b", gpus=8))
    c.place(pod("s", milli=400), 0, [0])
    before = [a.copy() for a in (c.gpu_left, c.max_free, c.idle, c.cpu_left, c.affinity)]
    for p, where, gpus in (
        (pod("big", milli=700), 0, [0]),
        (pod("past", milli=100), 0, [2]),
        (pod("neg", milli=100), 1, [-1]),
        (pod("two", num_gpu=2, milli=1000), 0, [1, 1]),
        (pod("late", num_gpu=2, milli=1000), 0, [1, 0]),  # GPU 1 fits, GPU 0 does not
    ):
        with pytest.raises(ValueError, match=p.name):
            c.place(p, where, gpus)
    after = (c.gpu_left, c.max_free, c.idle, c.cpu_left, c.affinity)
    assert all((x == y).all() for x, y in zip(before, after, strict=True))
    assert [name for name, *_ in c.placements] == ["s"]


def _arrays(c: FillCluster) -> list[list[int]]:
    return [a.ravel().tolist() for a in (c.gpu_left, c.cpu_left, c.mem_left, c.max_free, c.idle,
                                         c.free_total, c.affinity, c.version)]  # fmt: skip


def test_a_refused_placement_names_its_cause_and_changes_nothing() -> None:
    import pytest

    c = cluster(node("a", gpus=2, cpu=8_000), node("b", gpus=1))
    c.place(pod("s", milli=700), 0, [1])  # GPU 1 of a: 300 left
    before, placed = _arrays(c), list(c.placements)
    refusals = [
        (pod("w", milli=400), 0, [1], "cannot take 400 milli on GPU 1 of node a"),
        (pod("x", num_gpu=2, milli=1000), 0, [0, 2], "cannot take 1000 milli on GPU 2 of node a"),
        (pod("y", num_gpu=2, milli=1000), 0, [0, -1], "on GPU -1 of node a"),
        (pod("c", milli=100, cpu=9_000), 0, [0], r"does not fit node a \(CPU/memory\)"),
        (pod("d", num_gpu=2, milli=1000), 0, [0, 0], "needs 2 distinct GPUs"),
        (pod("e", milli=100), 0, [], "needs 1 distinct GPUs"),
        (pod("f", milli=100), 2, [0], "no node 2"),
        (pod("g", milli=100), -1, [0], "no node -1"),
    ]
    for p, where, gpus, why in refusals:
        with pytest.raises(ValueError, match=why):
            c.place(p, where, gpus)
        assert _arrays(c) == before and c.placements == placed
    assert c.violations() is None
    c.place(pod("h", num_gpu=1, milli=1000, cpu=1_000), 0, [0])  # a whole GPU still fits
    assert (int(c.max_free[0]), int(c.idle[0]), c.used_gpu_milli) == (300, 0, 1700)
    assert c.affinity[0].tolist()[:2] == [1, 1] and c.violations() is None
