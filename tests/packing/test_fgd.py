"""FGD expected fragmentation: hand-computed cases, and the vectorised table against a direct
per-shape evaluation of the paper's definition."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from packing.errors import PackingError
from packing.fgd import (
    FragTable,
    TargetWorkload,
    TaskShape,
    add_reduce,
    fgd_score,
    frag_increase,
    typical_workload,
)
from packing.fractional import NO_GPU


def reference_frag(gpu_left, cpu_left, model, workload):
    """The paper's definition, shape by shape (slow, obviously right)."""
    gpus = [g for g in gpu_left if g != NO_GPU]
    total = sum(gpus)
    out = 0.0
    for s, p in zip(workload.shapes, workload.weights, strict=True):
        if s.gpu_milli == 0 or not s.allows(model):
            out += p * total
            continue
        can_host = sum(1 for g in gpus if g >= s.gpu_milli) >= s.num_gpu and cpu_left >= s.cpu_milli
        out += p * (sum(g for g in gpus if g < s.gpu_milli) if can_host else total)
    return out


HALF = TaskShape(4000, 500, 1)
WHOLE2 = TaskShape(8000, 1000, 2)
CPU = TaskShape(2000, 0, 0)
MIX = TargetWorkload((HALF, WHOLE2, CPU), (0.5, 0.25, 0.25))


@pytest.mark.parametrize(
    ("gpus", "cpu", "expected"),
    [
        # Empty 2-GPU node, CPU plenty: HALF fits (no GPU < 500), WHOLE2 fits; CPU shape counts
        # all 2000 free: 0.25 * 2000 = 500.
        ([1000, 1000], 32000, 500.0),
        # [300, 1000]: HALF fits, 300 < 500 is fragment -> 0.5*300; WHOLE2 cannot (one whole GPU)
        # -> 0.25*1300; CPU -> 0.25*1300. Total 150 + 325 + 325 = 800.
        ([300, 1000], 32000, 800.0),
        # Same GPUs but 3000 CPU left: HALF lacks CPU -> 0.5*1300; WHOLE2 0.25*1300; CPU 0.25*1300.
        ([300, 1000], 3000, 1300.0),
        ([0, 0], 32000, 0.0),  # nothing free, nothing fragmented
    ],
)
def test_hand_computed_node_frag(gpus, cpu, expected):
    table = FragTable(MIX, ["T4"], max_gpus=2)
    got = table.node_frag(np.array([gpus]), np.array([cpu]), np.array([0]))[0]
    assert got == pytest.approx(expected)
    assert reference_frag(gpus, cpu, "T4", MIX) == pytest.approx(expected)


def test_model_constraint_counts_all_free_as_fragment():
    only_v100 = TargetWorkload((TaskShape(1000, 500, 1, "V100M16|V100M32"),), (1.0,))
    table = FragTable(only_v100, ["T4", "V100M32"], max_gpus=1)
    frag = table.node_frag(np.array([[1000], [1000]]), np.array([8000, 8000]), np.array([0, 1]))
    assert frag.tolist() == [1000.0, 0.0]  # a T4 is useless to this workload


def test_typical_workload_keeps_most_popular_until_threshold():
    a, b, c = TaskShape(1, 100, 1), TaskShape(2, 200, 1), TaskShape(3, 300, 1)
    # counts 6, 3, 1 of 10 tasks: 60 % alone < 80 %, 6 + 3 = 90 % >= 80 % -> keep a, b; 6/9, 3/9.
    w = typical_workload([a] * 6 + [b] * 3 + [c], popularity_pct=80)
    assert w.shapes == (a, b)
    assert w.weights == pytest.approx((6 / 9, 3 / 9))
    with pytest.raises(PackingError, match="zero tasks"):
        typical_workload([])


def test_score_and_increase():
    table = FragTable(MIX, ["T4"], max_gpus=2)
    # Putting HALF on the empty GPU of [300, 1000]: after [300, 500]: HALF fits, frag 0.5*300;
    # WHOLE2 no -> 0.25*800; CPU 0.25*800. 150+200+200 = 550; before 800 -> increase -250.
    assert frag_increase(table, [300, 1000], 32000, "T4", [1], 500) == pytest.approx(-250.0)
    # Decrease of 250 milli -> sigmoid(0.25) = 0.5622 -> 56.
    assert fgd_score(np.array([800.0]), np.array([550.0])).tolist() == [56]
    with pytest.raises(PackingError, match="GPU 0 has 300"):
        frag_increase(table, [300, 1000], 32000, "T4", [0], 500)
    with pytest.raises(PackingError, match="'A100'"):
        frag_increase(table, [300, 1000], 32000, "A100", [1], 500)


shapes = st.builds(
    TaskShape,
    st.sampled_from([0, 1000, 4000, 8000, 16000]),
    st.sampled_from([100, 250, 500, 810, 1000]),
    st.sampled_from([1, 2, 4]),
    st.sampled_from(["", "T4", "P100|T4"]),
).map(
    lambda s: (
        s
        if s.gpu_milli == 1000 or s.num_gpu == 1
        else TaskShape(s.cpu_milli, 1000, s.num_gpu, s.gpu_models)
    )
)
node_gpus = st.lists(st.sampled_from([0, 50, 190, 250, 500, 750, 1000]), min_size=4, max_size=4)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(shapes, st.integers(1, 20)), min_size=1, max_size=8),
    st.lists(
        st.tuples(node_gpus, st.integers(0, 20000), st.sampled_from(["T4", "P100"])),
        min_size=1,
        max_size=6,
    ),
    st.sampled_from([100, 250, 500]),
    st.integers(0, 3),
    st.integers(0, 5000),
)
def test_table_matches_definition(weighted, nodes, milli, gpu_idx, cpu_req):
    shapes_, counts = zip(*weighted, strict=True)
    merged: dict[TaskShape, int] = {}
    for s, n in zip(shapes_, counts, strict=True):
        merged[s] = merged.get(s, 0) + n
    total = sum(merged.values())
    wl = TargetWorkload(tuple(merged), tuple(n / total for n in merged.values()))
    table = FragTable(wl, ["T4", "P100"], max_gpus=4)
    gl = np.array([g for g, _, _ in nodes])
    cpu = np.array([c for _, c, _ in nodes])
    mi = np.array([table.model_index(m) for _, _, m in nodes])
    got = table.node_frag(gl, cpu, mi)
    want = [reference_frag(g, c, m, wl) for g, c, m in nodes]
    assert got == pytest.approx(want)
    # Incremental "after taking milli from one GPU" equals recomputing from scratch.
    ok = gl[:, gpu_idx] >= milli
    if ok.any():
        after = table.frag_after_share(gl[ok], cpu[ok], mi[ok], gl[ok, gpu_idx], milli, cpu_req)
        g2 = gl[ok].copy()
        g2[:, gpu_idx] -= milli
        assert after == pytest.approx(table.node_frag(g2, cpu[ok] - cpu_req, mi[ok]))
    # Fragmentation never exceeds the free GPU milli and is never negative.
    assert np.all(got >= -1e-9) and np.all(got <= gl.sum(axis=1) + 1e-9)


def test_typical_workload_of_the_openb_default_trace(shared_dir):
    from simulator.traces import load_openb_pods  # test-only: packing itself does no I/O

    pods = load_openb_pods(shared_dir / "traces/alibaba-gpu-v2023/openb_pod_list_default.csv").rows
    w = typical_workload(TaskShape(p.cpu_milli, p.gpu_milli, p.num_gpu, p.gpu_spec) for p in pods)
    # 95 % of 8152 pods = 7744.4; the top 35 (cpu, milli, count) shapes are the first to reach it.
    assert len(w.shapes) == 35
    assert w.shapes[0] == TaskShape(3152, 810, 1)  # the most common shape
    assert sum(w.weights) == pytest.approx(1.0)
    cpu_only = sum(p for s, p in zip(w.shapes, w.weights, strict=True) if s.gpu_milli == 0)
    assert 0.13 < cpu_only < 0.14  # CPU-only pods are part of the target workload


def _fancy_frag(table: FragTable, total, cnt, big, cpu_left, model_idx):  # type: ignore[no-untyped-def]
    """`frag_from_counts` as it read before the flat take: a 4-way fancy index."""
    k = np.searchsorted(table.cpu_grid, cpu_left, side="right")
    w = table.tab[model_idx[:, None], np.arange(len(table.milli))[None, :], cnt, k[:, None]]
    return np.asarray(total - (w * big).sum(axis=1), dtype=np.float64)


def _random_counts(shapes, max_gpus: int, seed: int):
    """A table for `shapes` and 7 random rows of its inputs: total, counts 0..max_gpus, big,
    CPU (below, between and above the grid) and model."""
    tasks = [TaskShape(c, m, min(n, max_gpus)) for c, m, n in shapes]
    table = FragTable(typical_workload(tasks, 100.0), ("A", "B"), max_gpus=max_gpus)
    rng = np.random.default_rng(seed)
    rows, m = 7, len(table.milli)
    cnt = rng.integers(0, max_gpus + 1, (rows, m))
    big = rng.integers(0, 8000, (rows, m))
    total = rng.integers(0, 8000, rows)
    cpu = rng.integers(-1000, 10000, rows)
    model = rng.integers(0, 2, rows).astype(np.intp)
    return table, total, cnt, big, cpu, model


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from([1000, 2000, 4000]), st.sampled_from([250, 500, 1000]),
                       st.integers(1, 4)), min_size=1, max_size=5),
    st.integers(1, 8),
    st.integers(0, 2**31 - 1),
)  # fmt: skip
def test_frag_from_counts_flat_take_equals_the_fancy_index(shapes, max_gpus, seed) -> None:
    """Property: the flat take reads the same table cells as the 4-way fancy index, bit for
    bit, for any counts 0..max_gpus, CPU (below, between and above the grid) and model."""
    table, total, cnt, big, cpu, model = _random_counts(shapes, max_gpus, seed)
    got = table.frag_from_counts(total, cnt, big, cpu, model)
    assert np.array_equal(got, _fancy_frag(table, total, cnt, big, cpu, model))


def test_frag_from_counts_refuses_more_gpus_than_the_table() -> None:
    table = FragTable(MIX, ("A",), max_gpus=2)
    cnt = np.array([[3, 0]])  # 3 GPUs at the first threshold; the table stops at 2
    with pytest.raises(PackingError, match="more than 2 GPUs"):
        table.frag_from_counts(np.array([3000]), cnt, np.array([[3000, 0]]),
                               np.array([8000]), np.array([0]))  # fmt: skip


def _counts_by_definition(table: FragTable, gpu_left):  # type: ignore[no-untyped-def]
    """`FragTable.counts` as it read before the GPUs-first layout: (K, M, G) comparisons summed
    over the GPU axis."""
    g = np.where(gpu_left == NO_GPU, 0, gpu_left)[:, None, :]
    ge = g >= table.milli[None, :, None]
    return ge.sum(axis=2), (ge * g).sum(axis=2)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from([100, 250, 300, 500, 700, 1000]), min_size=0, max_size=5),
    st.integers(0, 40),
    st.integers(0, 9),
    st.sampled_from([np.int16, np.int32, np.int64]),
    st.integers(0, 2**31 - 1),
)
def test_counts_equal_the_definition(milli, rows, gpus, dtype, seed) -> None:
    """Property: per node and threshold, the GPUs with at least that much free and their free
    milli (`counts`) are the definition's, values and dtype, for any fleet shape (no rows, no
    GPU column, no GPU threshold), free milli on both sides of every threshold and padding
    (`NO_GPU`)."""
    shapes = [TaskShape(1000, m, 1) for m in milli] or [CPU]
    table = FragTable(typical_workload(shapes, 100.0), ("A",))
    rng = np.random.default_rng(seed)
    picks = np.array([NO_GPU, 0, 99, 100, 101, 250, 299, 300, 500, 699, 700, 1000])
    free = rng.choice(picks, (rows, gpus)).astype(dtype)
    got, want = table.counts(free), _counts_by_definition(table, free)
    for a, b in zip(got, want, strict=True):
        assert a.shape == b.shape == (rows, len(table.milli))
        assert a.dtype == b.dtype and np.array_equal(a, b)


FLOATS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-1e6, 1e6),
    st.sampled_from([0.0, -0.0, 1e-300, 1e300, 0.1, 3.0]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(FLOATS, max_size=300), st.integers(0, 3))
def test_add_reduce_is_numpys_sum_bit_for_bit(values: list[float], lo: int) -> None:
    """Property: the kernels' `add_reduce` of a[lo:] is `np.add.reduce` of it (numpy's
    pairwise order: plain below 8, eight running sums up to 128, halves above), NaN, inf and
    -0.0 included."""
    a = np.array([0.5] * lo + values, np.float64)
    want = np.add.reduce(a[lo:])
    got = add_reduce(a, lo, len(values))
    assert np.array_equal(np.array([got]), np.array([want]), equal_nan=True)
    assert np.signbit(got) == np.signbit(want)


def test_add_reduce_is_not_a_left_to_right_sum() -> None:
    """The order matters: 1e16 + 1 + ... (nine ones) + -1e16 left to right loses every 1
    (0.0); numpy's eight running sums keep some of them."""
    a = np.array([1e16] + [1.0] * 9 + [-1e16])
    left_to_right = 0.0
    for x in a.tolist():
        left_to_right += x
    assert add_reduce(a, 0, len(a)) == np.add.reduce(a) != left_to_right


def _numpy_reference_tab(workload: TargetWorkload, models, max_gpus: int):  # type: ignore[no-untyped-def]
    """`FragTable.tab` by numpy slice adds, model by model, shape by shape (the table's
    constructor before its kernel)."""
    gpu = [
        (s, w) for s, w in zip(workload.shapes, workload.weights, strict=True) if s.gpu_milli > 0
    ]
    milli = sorted({s.gpu_milli for s, _ in gpu})
    grid = sorted({s.cpu_milli for s, _ in gpu})
    tab = np.zeros((len(models), len(milli), max_gpus + 1, len(grid) + 1))
    for mi, model in enumerate(models):
        for s, w in gpu:
            if s.allows(model) and s.num_gpu <= max_gpus:
                tab[mi, milli.index(s.gpu_milli), s.num_gpu :, grid.index(s.cpu_milli) + 1 :] += w
    return tab


table_shapes = st.builds(
    TaskShape,
    st.sampled_from([0, 1000, 2000, 4000, 6000, 32000]),
    st.sampled_from([0, 100, 250, 333, 500, 1000]),
    st.integers(0, 9),
    st.sampled_from(["", "T4", "V100", "T4|P100", "A10|V100M16"]),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(table_shapes, min_size=1, max_size=12, unique=True),
       st.lists(st.floats(0.01, 7.0), min_size=12, max_size=12),
       st.sampled_from([("T4",), ("T4", "V100", "P100"), ("A10", "any")]),
       st.integers(1, 8))  # fmt: skip
def test_the_tables_kernel_adds_what_numpy_adds(shapes, raw, models, max_gpus) -> None:  # type: ignore[no-untyped-def]
    """Property: `FragTable.tab` (filled by `_fill_table`) is numpy's slice adds, bit for bit
    (weights that do not sum exactly, so the order of the adds shows)."""
    total = sum(raw[: len(shapes)])
    workload = TargetWorkload(tuple(shapes), tuple(x / total for x in raw[: len(shapes)]))
    got = FragTable(workload, models, max_gpus).tab
    assert got.tobytes() == _numpy_reference_tab(workload, models, max_gpus).tobytes()


def test_add_reduce_of_long_runs_of_many_scales() -> None:
    """Lengths 0-1,100 (past 128: the halves, and their halves past 256 and 512) of values
    spread over 20 orders of magnitude, where any other order of the additions rounds
    differently."""
    rng = np.random.default_rng(7)
    for n in [*range(0, 140), 255, 256, 257, 511, 512, 513, 1001, 1100]:
        a = rng.standard_normal(n) * 10.0 ** rng.integers(-10, 10, n)
        assert add_reduce(a, 0, n) == np.add.reduce(a), n
