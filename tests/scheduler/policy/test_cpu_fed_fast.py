"""The unfed change and the `CpuFed` value in few array steps equal the plain formulas bit
for bit; a subset of a scored cycle (the tie-break's) reads the same bytes from the scores.

`unfed_change` forms unfed(after) and unfed(now) in one kernel (`_unfed_rows`) and `value`
clips in place; both must give the same bytes as `unfed_milli` called twice on the rows' columns and
`np.clip`, including overcommitted CPU (negative free), pods asking more CPU than a node has,
padded GPU columns (`NO_GPU`), rows the pod does not fit, NaN, infinities and -0.0.
"""

from __future__ import annotations

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from packing.fgd import TaskShape
from scheduler.policy import batch
from scheduler.policy.demand import DemandMix
from scheduler.policy.framework import _batch_sums
from scheduler.policy.interfaces import CycleState
from scheduler.policy.model import (
    Allocation,
    ClusterState,
    Gpu,
    GpuGrant,
    GpuRequest,
    Node,
    Placement,
)
from scheduler.policy.plugins import binpack, fragmentation
from scheduler.policy.plugins.cpu_fed import (
    CpuFedArgs,
    CpuFedLookAhead,
    _unfed_rows,
    mix_cpu_per_milli,
    unfed_change,
    unfed_milli,
)
from scheduler.policy.plugins.cpu_fed_score import SPAN_MILLI, value
from scheduler.policy.plugins.lookahead import LookAhead
from scheduler.policy.registry import build_profile
from tests.builders import pod

_free = st.sampled_from([0, 100, 190, 350, 530, 999, 1000])


def _state(nodes: list[tuple[list[int], int, int]]) -> ClusterState:
    """T4 nodes: (free milli per GPU, CPU capacity, CPU held by other pods; more than the
    capacity: overcommitted, negative free CPU)."""
    built, allocs = {}, {}
    for k, (free, cap, held) in enumerate(nodes):
        n = f"n{k}"
        built[n] = Node(n, gpus=tuple(Gpu(i, f"{n}-{i}", "T4", 16384) for i in range(len(free))),
                        cpu_milli=cap)  # fmt: skip
        for i, f in enumerate(free):
            if f < 1000:
                grant = GpuGrant(i) if f == 0 else GpuGrant(i, milli=1000 - f)
                allocs[f"{n}{i}"] = Allocation(f"d/{n}{i}", f"{n}{i}", Placement(n, (grant,)))
        if held:  # a pod holding CPU only
            allocs[f"{n}c"] = Allocation(f"d/{n}c", f"{n}c", Placement(n, ()), cpu_milli=held)
    mix = {TaskShape(8000, 1000, 1): 5, TaskShape(2000, 470, 1): 2}
    return ClusterState(built, allocs, demand=DemandMix(mix, 0.0, {}, 7))


def _direct(cycle: CycleState, per: float) -> tuple[np.ndarray, np.ndarray]:
    """The formula as first written: `unfed_milli` of the state after the pod minus that of
    the state now, from the candidate rows' columns."""
    g = cycle.pod.gpu
    assert g is not None
    idx, rows = cycle.index, cycle.rows
    taken = batch.placement_columns(cycle)[1].sum(axis=1, dtype=np.int64)
    milli = 1000 if g.kind == "whole" else g.milli
    free = np.maximum(idx.plain_free[rows], 0).sum(axis=1, dtype=np.int64)
    cpu = idx.cpu[rows].astype(np.int64)
    change = unfed_milli(free - milli * taken, cpu - cycle.pod.cpu_milli, per)
    change -= unfed_milli(free, cpu, per)
    return change, taken


@settings(max_examples=300, deadline=None)
@given(
    nodes=st.lists(
        st.tuples(
            st.lists(_free, min_size=1, max_size=8),
            st.integers(0, 96).map(lambda c: c * 1000),
            st.sampled_from([0, 1500, 7000, 200000]),
        ),
        min_size=1,
        max_size=6,
    ),
    gpu=st.sampled_from(
        [("whole", 1), ("whole", 2), ("whole", 4), ("milli", 190), ("milli", 470), ("milli", 810)]
    ),  # fmt: skip
    cores=st.integers(0, 40).map(lambda c: c * 1000 + 250),
    per=st.floats(0.01, 200.0) | st.sampled_from([1.0, 3.0, 8.0, 0.1]),
)
def test_unfed_change_equals_the_formula_bit_for_bit(nodes, gpu, cores, per) -> None:
    kind, n = gpu
    request = GpuRequest("whole", n) if kind == "whole" else GpuRequest("milli", 1, milli=n)
    state = _state(nodes)
    names = sorted(state.nodes)
    p = pod(gpu=request, cpu_milli=cores)
    got, taken = unfed_change(CycleState(state, p, names), per)
    want, want_taken = _direct(CycleState(state, p, names), per)
    assert got.dtype == want.dtype and got.tobytes() == want.tobytes()
    assert taken.tolist() == want_taken.tolist()


_x = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([-0.0, 0.0, 1000.0, -1000.0])


@settings(max_examples=500, deadline=None)
@given(xs=st.lists(_x, min_size=0, max_size=12))
def test_value_equals_clip_bit_for_bit(xs: list[float]) -> None:
    change = np.array(xs, np.float64)
    kept = change.copy()
    want = np.clip(0.5 - change / SPAN_MILLI, 0.0, 1.0)
    got = value(change)
    assert got.tobytes() == want.tobytes()
    assert change.tobytes() == kept.tobytes()  # the caller's array is not written


def test_value_of_a_scalar() -> None:
    # 0.5 - 500 / 2000 = 0.25, as a 0-d array
    assert float(value(np.float64(500.0))) == 0.25


_node = st.tuples(
    st.lists(_free, min_size=1, max_size=4),
    st.integers(0, 64).map(lambda c: c * 1000),
    st.sampled_from([0, 1500, 200000]),
)


@settings(max_examples=200, deadline=None)
@given(
    specs=st.lists(_node, min_size=1, max_size=3),
    picks=st.lists(st.integers(0, 2), min_size=2, max_size=9),
    gpu=st.sampled_from([("whole", 1), ("whole", 2), ("milli", 190), ("milli", 470)]),
    cores=st.integers(0, 12).map(lambda c: c * 1000 + 250),
    data=st.data(),
)
def test_a_subset_of_a_scored_cycle_equals_a_fresh_cycle(specs, picks, gpu, cores, data) -> None:
    """The tie-break's cycle is a subset of the one the scores ran on: its unfed change, state
    groups and tie costs, read from what the scores formed (`CycleState.from_parent`,
    `parent_states`), are the bytes a fresh cycle of the same nodes gives. Nodes repeat
    states (so the scores run one row per state) or not."""
    kind, n = gpu
    request = GpuRequest("whole", n) if kind == "whole" else GpuRequest("milli", 1, milli=n)
    state = _state([specs[i % len(specs)] for i in picks])
    names = sorted(state.nodes)
    p = pod(gpu=request, cpu_milli=cores)
    profile = build_profile()
    cycle = CycleState(state, p, names)
    assert _batch_sums(cycle, profile) is not None  # the scorers share their values
    positions = np.array(
        data.draw(st.lists(st.integers(0, len(names) - 1), min_size=1, max_size=len(names))),
        np.intp,
    )
    sub, fresh = cycle.subset(positions), CycleState(state, p, [names[i] for i in positions])
    for per in (0.25, 3.0):
        got, taken = unfed_change(sub, per)
        want, want_taken = unfed_change(fresh, per)
        assert got.tobytes() == want.tobytes() and taken.tolist() == want_taken.tolist()
    tie = profile.tie_break
    assert tie is not None
    got_costs = tie.tie_costs(cycle.subset(positions))
    want_costs = tie.tie_costs(CycleState(state, p, [names[i] for i in positions]))
    if want_costs is None:
        assert got_costs is None
    else:
        assert got_costs is not None
        assert np.asarray(got_costs).tobytes() == np.asarray(want_costs).tobytes()


@settings(max_examples=150, deadline=None)
@given(
    specs=st.lists(_node, min_size=1, max_size=3),
    picks=st.lists(st.integers(0, 2), min_size=2, max_size=9),
    gpu=st.sampled_from([("whole", 1), ("milli", 190), ("milli", 470)]),
    cores=st.integers(0, 12).map(lambda c: c * 1000 + 250),
    data=st.data(),
)
def test_the_tie_costs_of_a_subset_are_the_look_ahead_plus_the_weighted_change(
    specs, picks, gpu, cores, data
) -> None:
    """For any weight (the default 1.0 adds the change without multiplying it: x 1.0 is the
    same bits), the costs of a subset of a scored cycle are the bytes of the look-ahead's cost
    plus weight x the unfed change a fresh cycle of the same nodes forms."""
    kind, n = gpu
    request = GpuRequest("whole", n) if kind == "whole" else GpuRequest("milli", 1, milli=n)
    state = _state([specs[i % len(specs)] for i in picks])
    names = sorted(state.nodes)
    p = pod(gpu=request, cpu_milli=cores)
    cycle = CycleState(state, p, names)
    assert _batch_sums(cycle, build_profile()) is not None  # the scorers share their values
    positions = np.array(
        data.draw(st.lists(st.integers(0, len(names) - 1), min_size=1, max_size=len(names))),
        np.intp,
    )
    fresh = CycleState(state, p, [names[i] for i in positions])
    look = LookAhead().tie_costs(fresh)
    mix = state.demand
    assert mix is not None and mix.workload is not None
    per = mix_cpu_per_milli(mix.memo, mix.workload)
    for weight in (1.0, 0.5, 3.0):
        got = CpuFedLookAhead(CpuFedArgs(weight)).tie_costs(cycle.subset(positions))
        if look is None or per is None:
            assert (got is None) == (look is None)
            continue
        assert got is not None
        want = look + weight * unfed_change(fresh, per)[0]
        assert np.asarray(got).tobytes() == want.tobytes()


_mostly_idle = st.tuples(
    st.lists(st.sampled_from([1000, 1000, 0, 530, 190]), min_size=1, max_size=4),
    st.just(32000),
    st.just(0),
)


@settings(max_examples=200, deadline=None)
@given(
    nodes=st.lists(_mostly_idle, min_size=1, max_size=6),
    gpu=st.sampled_from([("whole", 1), ("whole", 2), ("whole", 4), ("milli", 190), ("milli", 810)]),
)
@example(nodes=[([1000, 1000, 0], 32000, 0)], gpu=("whole", 2))
def test_the_shared_taken_counts_are_the_placement_columns_summed(nodes, gpu) -> None:
    """`batch.taken_counts` (read by `Fragmentation`, `CpuFed` and `Binpack`) is each
    candidate's placement columns summed, as int64, and the `Binpack` and `Fragmentation`
    values formed with it are the bytes of those formed from the columns."""
    kind, n = gpu
    request = GpuRequest("whole", n) if kind == "whole" else GpuRequest("milli", 1, milli=n)
    state = _state(nodes)
    names = sorted(state.nodes)
    p = pod(gpu=request, cpu_milli=1250)
    cycle = CycleState(state, p, names)
    counts = batch.taken_counts(cycle)
    mine = batch.placement_columns(cycle)[1]
    assert counts.dtype == np.int64 and counts.tolist() == mine.sum(axis=1).tolist()
    idx, rows = cycle.index, cycle.rows
    per = (1000 if kind == "whole" else n) / 1000
    want = binpack._after(idx, rows, mine, per)
    assert binpack._after(idx, rows, mine, per, counts).tobytes() == want.tobytes()
    mix = state.demand
    assert mix is not None
    table = mix.table(tuple(idx.keys), max(8, idx.slots))
    assert table is not None
    base = fragmentation._fgd_counts(idx, np.arange(len(idx.alive), dtype=np.intp), table)
    milli = 1000 if kind == "whole" else n
    got = fragmentation._fgd_increase(table, idx, rows, base, mine, milli, 1250, counts)
    plain = fragmentation._fgd_increase(table, idx, rows, base, mine, milli, 1250)
    assert got[0].tobytes() == plain[0].tobytes() and got[1].tolist() == plain[1].tolist()


def _numpy_reference_unfed_rows(free, cpu, rows, taken, milli, pod_cpu, per):
    """`_unfed_rows` as the numpy steps it replaced: (2, rows) arrays, after then now."""
    pf = np.maximum(free.take(rows, axis=0), 0)
    total = np.add.reduce(np.ascontiguousarray(pf.T), axis=0, dtype=np.int64)
    c = cpu.take(rows)
    gpu2 = np.empty((2, len(rows)))
    gpu2[0], gpu2[1] = total - milli * taken, total
    cpu2 = np.empty((2, len(rows)))
    cpu2[0], cpu2[1] = c - pod_cpu, c
    np.maximum(cpu2, 0.0, out=cpu2)
    with np.errstate(divide="ignore", invalid="ignore"):
        cpu2 /= per
        np.subtract(gpu2, cpu2, out=gpu2)
    np.maximum(0.0, gpu2, out=gpu2)
    with np.errstate(invalid="ignore"):
        return gpu2[0] - gpu2[1]


@settings(max_examples=300, deadline=None)
@given(
    free=st.lists(st.lists(st.sampled_from([-1, 0, 1, 190, 500, 1000]), min_size=8, max_size=8),
                  min_size=1, max_size=6),
    data=st.data(),
    milli=st.sampled_from([190, 470, 1000]),
    pod_cpu=st.sampled_from([0, 250, 4000, 200000]),
    per=st.sampled_from([0.0, 1e-300, 0.1, 1.0, 8.0, np.inf]) | st.floats(0.01, 200.0),
)  # fmt: skip
def test_unfed_rows_kernel_is_the_numpy_steps(free, data, milli, pod_cpu, per) -> None:
    """Property: the `_unfed_rows` kernel equals its numpy steps bit for bit, any rows of an
    int16 index (NO_GPU padding), any CPU (negative: overcommitted), GPUs taken 0-4, and a
    CPU per GPU milli of 0 or +inf (NaN and infinities through `np.maximum`)."""
    pf = np.array(free, np.int16)
    n = len(pf)
    cpu = np.array(data.draw(st.lists(st.integers(-8000, 64000), min_size=n, max_size=n)))
    rows = np.array(data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=8)), np.int64)
    taken = np.array(data.draw(st.lists(st.integers(0, 4), min_size=len(rows),
                                        max_size=len(rows))), np.int64)  # fmt: skip
    want = _numpy_reference_unfed_rows(pf, cpu, rows, taken, milli, pod_cpu, per)
    got = _unfed_rows(pf, cpu.astype(np.int64), rows, taken, milli, pod_cpu, float(per))
    assert got.tobytes() == want.tobytes()
