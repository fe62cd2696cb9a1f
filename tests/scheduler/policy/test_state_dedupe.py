"""Scoring (and filtering) one fleet-index row per distinct row state gives exactly the answer
of every row judged on its own.

One-sentence property: for any fleet, allocations, live load, demand mix and pod, the batch
path's weighted score sums with deduplication (`Profile.dedupe`, the default) are bit-identical
to those without it, and so are the filter verdicts.

The row state key (`FleetIndex.state_ids`) is checked table by table: two nodes that differ in
one column get different ids, identical nodes the same id; and a key that leaves a column out
makes the property fail (the mutation check below finds a counterexample for each column the
default scorers read).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

from packing.fgd import TaskShape
from scheduler.policy import filtering, fleet_index
from scheduler.policy.demand import DemandMix
from scheduler.policy.framework import CycleState, _batch_scores, _groups, run_filters, run_scores
from scheduler.policy.model import (
    Allocation,
    ClusterState,
    Gpu,
    GpuGrant,
    GpuHealth,
    GpuLoad,
    GpuRequest,
    MigSlot,
    Node,
    Placement,
)
from scheduler.policy.registry import SCORERS, build_profile, default_profile
from tests.builders import H100, H100_MIB, pod


@pytest.fixture(autouse=True, scope="module")
def _group_small_candidate_lists():
    """These fleets are small: group from two candidates (`filtering.GROUPED_FROM`) so the
    by-state path runs on them (its answers are what this module checks)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(filtering, "GROUPED_FROM", 2)
        yield


A100 = "NVIDIA A100-SXM4-40GB"
T4 = "T4"  # outside the MIG catalogue: shares and whole GPUs only
P4 = "P4"  # another one, with the T4's memory: only the model column tells them apart
MIB_OF = {A100: 40960, T4: 15360, P4: 15360, H100: H100_MIB}
ON = default_profile()
OFF = replace(ON, dedupe=False)
EVERY = build_profile(weights=dict.fromkeys(SCORERS, 1.0))  # every registered scorer
PAIRS = ((ON, OFF), (EVERY, replace(EVERY, dedupe=False)))


def _gpu(i: int, model: str, mig: bool = False, load: GpuLoad | None = None,
         temp: float | None = None) -> Gpu:  # fmt: skip
    slots = (MigSlot("3g.40gb", 4, False),) if mig and model == H100 else ()
    return Gpu(i, f"G{i}", model, MIB_OF[model], mig and model == H100, slots,
               GpuHealth(temperature_c=temp), load)  # fmt: skip


templates = st.tuples(
    st.sampled_from([H100, A100, T4, T4, P4]),  # model
    st.integers(1, 4),  # GPUs
    st.booleans(),  # MIG on GPU 0 (H100 only)
    st.sampled_from([16_000, 32_000]),  # CPU
)
grants = st.sampled_from([
    None,  # CPU only
    GpuGrant(0, milli=500, memory_mib=1000), GpuGrant(0, milli=250), GpuGrant(1, milli=500),
    GpuGrant(0), GpuGrant(1), GpuGrant(0, profile="1g.10gb", start=0),
])  # fmt: skip


@st.composite
def fleets(draw):  # type: ignore[no-untyped-def]
    """Nodes made as 2-4 copies of 1-3 templates (so states repeat), then some copies changed
    by an allocation (GPU share, whole GPU, MIG instance or CPU only), a live load reading or
    a temperature, and a demand mix or none."""
    nodes: dict[str, Node] = {}
    for t, (model, n, mig, cpu) in enumerate(draw(st.lists(templates, min_size=1, max_size=3))):
        for c in range(draw(st.integers(2, 4))):
            name = f"t{t}c{c}"
            load = draw(st.sampled_from([None, None, None, GpuLoad(40.0, 1000, 200.0, 990.0)]))
            temp = draw(st.sampled_from([None, None, 50.0]))
            gpus = tuple(_gpu(i, model, mig and i == 0, load if i == 0 else None, temp)
                         for i in range(n))  # fmt: skip
            nodes[name] = Node(name, gpus=gpus, cpu_milli=cpu)
    allocs = {}
    for k in range(draw(st.integers(0, 5))):
        name = draw(st.sampled_from(sorted(nodes)))
        g = draw(grants)
        cpu = draw(st.sampled_from([0, 2000, 8000]))
        place = Placement(name, () if g is None else (g,))
        allocs[f"u{k}"] = Allocation(f"d/u{k}", f"u{k}", place, cpu_milli=cpu)
    demand = draw(st.sampled_from([
        None,
        DemandMix({TaskShape(2000, 500, 1): 3, TaskShape(4000, 1000, 1): 2,
                   TaskShape(1000, 0, 0): 1}, 3500.0, {frozenset({"T4"}): 1000.0}, 6),
        DemandMix({TaskShape(8000, 1000, 2): 1, TaskShape(1000, 250, 1): 4}, 3000.0, {}, 5),
    ]))  # fmt: skip
    return ClusterState(nodes, allocs, now=1000.0, demand=demand)


requests = st.sampled_from([
    GpuRequest("whole", 1), GpuRequest("whole", 2), GpuRequest("milli", milli=500),
    GpuRequest("milli", milli=300, memory_mib=12000), GpuRequest("mig", 1, "1g.10gb"),
    GpuRequest("mig", 1, "3g.40gb", dynamic=True), None,
])  # fmt: skip
pods = st.builds(
    lambda req, cpu, qos, allowed: pod(gpu=req, cpu_milli=cpu, qos=qos, allowed_products=allowed),
    requests, st.sampled_from([0, 4000, 20000]), st.sampled_from([None, "batch"]),
    st.sampled_from([None, frozenset({T4})]),
)  # fmt: skip


def _differs(state: ClusterState, p) -> str:  # type: ignore[no-untyped-def]
    """Where deduplicated and row-by-row answers differ ("" when they agree)."""
    names = [*sorted(state.nodes), "ghost"]
    for with_dedupe, without in PAIRS:
        on = _batch_scores(CycleState(state, p, names), with_dedupe)
        off = _batch_scores(CycleState(state, p, names), without)
        if (on is None) != (off is None) or (on is not None and not np.array_equal(on, off)):
            return f"{with_dedupe.name} scores {on} != {off}"
    known = sorted(state.nodes)  # every name known: scaled per state, then spread
    for with_dedupe, without in PAIRS:
        s_on = run_scores(state, p, known, with_dedupe, rank=True)
        s_off = run_scores(state, p, known, without, rank=True)
        if (s_on.ints, s_on.levels) != (s_off.ints, s_off.levels):
            return f"{with_dedupe.name} levels {s_on.levels} != {s_off.levels}"
    f_on, f_off = run_filters(state, p, names, ON), run_filters(state, p, names, OFF)
    for part in ("passed", "failed", "unresolvable"):
        if getattr(f_on, part) != getattr(f_off, part):
            return f"filters ({part}) {getattr(f_on, part)} != {getattr(f_off, part)}"
    return ""


@settings(max_examples=300, deadline=None)
@given(fleets(), pods)
def test_deduplicated_scores_and_verdicts_equal_row_by_row(state, p) -> None:
    assert EVERY.scores_by_state  # every registered scorer declares `state_only`
    assert _differs(state, p) == ""


def test_the_fleets_do_repeat_states() -> None:
    """The property above is not vacuous: its fleets have rows of one state (dedupe runs)."""
    found = find(fleets(), lambda s: _groups(CycleState(s, pod(), sorted(s.nodes))) is not None,
                 settings=settings(derandomize=True, database=None))  # fmt: skip
    assert len(found.nodes) >= 2


# Keys with columns left out. Several columns carry the same fact (`used` and `used_sum` follow
# from the free milli, `load_at` is set with `load`), so leaving out one of them alone changes
# nothing: each mutation drops every column that holds one fact, and hypothesis must then find
# a fleet and pod where rows equal in the remaining columns get different answers.
MUTATIONS = {
    "free CPU": ("cpu",),
    "free GPU milli": ("plain_free", "plain_mem", "used", "used_sum"),
    "GPU model": ("product",),
    "live load": ("load", "load_at"),
}


@pytest.mark.parametrize("fact", sorted(MUTATIONS))
def test_a_key_without_a_fact_fails_the_property(monkeypatch, fact: str) -> None:
    kept = tuple(f for f in fleet_index.STATE_FIELDS if f not in MUTATIONS[fact])
    monkeypatch.setattr(fleet_index, "STATE_FIELDS", kept)
    state, p = find(
        st.tuples(fleets(), pods),
        lambda sp: _differs(*sp) != "",
        settings=settings(derandomize=True, database=None, max_examples=2000),
    )
    assert _differs(state, p)


def _ids(*nodes: Node, allocs: dict[str, Allocation] | None = None) -> list[int]:
    state = ClusterState({n.name: n for n in nodes}, allocs or {}, now=1000.0)
    idx = state.fleet()
    return idx.state_ids()[idx.rows_of([n.name for n in nodes])[0]].tolist()


def _t4(name: str, n: int = 2, cpu: int = 32_000, **kw) -> Node:  # type: ignore[no-untyped-def]
    return Node(name, gpus=tuple(_gpu(i, T4, **kw) for i in range(n)), cpu_milli=cpu)


def _held(node: str, grant: GpuGrant | None, cpu: int = 0) -> Allocation:
    return Allocation(f"d/{node}", f"x-{node}", Placement(node, () if grant is None else (grant,)),
                      cpu_milli=cpu)  # fmt: skip


CASES = [
    # (what differs, nodes, allocations, same id?)
    ("nothing: two idle 2xT4 nodes, 32 CPUs each", [_t4("a"), _t4("b")], {}, True),
    # a 500 share on GPU 0 of one node: free milli (1000, 1000) vs (500, 1000)
    ("free GPU milli", [_t4("a"), _t4("b")], {"x": _held("a", GpuGrant(0, milli=500))}, False),
    # the same share on GPU 0 of one and GPU 1 of the other: (500, 1000) vs (1000, 500): the
    # key keeps the column order (a scorer may read it), so the ids differ
    ("which GPU holds the share", [_t4("a"), _t4("b")],
     {"x": _held("a", GpuGrant(0, milli=500)), "y": _held("b", GpuGrant(1, milli=500))}, False),
    # 4 CPUs held on one node: free CPU 32,000 vs 28,000
    ("free CPU", [_t4("a"), _t4("b")], {"x": _held("a", None, cpu=4000)}, False),
    # 16 vs 32 CPUs allocatable, nothing held: free CPU differs the same way
    ("allocatable CPU", [_t4("a", cpu=16_000), _t4("b")], {}, False),
    # 2 vs 3 T4s: one more GPU column in use (and a different usable count)
    ("GPU count", [_t4("a", n=2), _t4("b", n=3)], {}, False),
    # T4 vs A100 (2 GPUs each, both idle): the product column
    ("GPU model", [_t4("a"), Node("b", gpus=(_gpu(0, A100), _gpu(1, A100)), cpu_milli=32_000)],
     {}, False),
    # a fresh load reading on GPU 0 of one node: load and load_at columns
    ("live load", [_t4("a", load=GpuLoad(40.0, 1000, 200.0, 990.0)), _t4("b")], {}, False),
    # the same reading on both: equal again
    ("the same live load", [_t4("a", load=GpuLoad(40.0, 1000, 200.0, 990.0)),
                            _t4("b", load=GpuLoad(40.0, 1000, 200.0, 990.0))], {}, True),
    # a GPU temperature: the `hot` column (read by the health filter's batch method)
    ("temperature", [_t4("a", temp=50.0), _t4("b")], {}, False),
    # H100 with MIG on and a free 3g.40gb instance vs plain H100: MIG columns and counts
    ("MIG instances", [Node("a", gpus=(_gpu(0, H100, mig=True),), cpu_milli=32_000),
                       Node("b", gpus=(_gpu(0, H100),), cpu_milli=32_000)], {}, False),
]  # fmt: skip


@pytest.mark.parametrize(("what", "nodes", "allocs", "same"), CASES, ids=[c[0] for c in CASES])
def test_state_key(what: str, nodes: list[Node], allocs: dict[str, Allocation], same: bool):
    a, b = _ids(*nodes, allocs=allocs)
    assert (a == b) is same, what


def test_names_and_row_order_are_not_in_the_key() -> None:
    # The same idle node under three names, the middle one differently allocated: the first and
    # last share an id whatever their names or rows.
    ids = _ids(_t4("zz"), _t4("m"), _t4("aa"), allocs={"x": _held("m", GpuGrant(0))})
    assert ids[0] == ids[2] != ids[1]


def test_a_scorer_without_the_promise_turns_dedupe_off() -> None:
    """`state_only` is opt-in: a scorer that does not declare it (it might read the node's
    name) makes the profile score every row."""

    class ByName:  # a batch scorer reading node identity, with no `state_only`
        name = "ByName"

        def score(self, state, p, node, cycle=None) -> float:  # type: ignore[no-untyped-def]
            return 1.0 if node.name.endswith("0") else 0.0

        def score_rows(self, cycle):  # type: ignore[no-untyped-def]
            return np.array([1.0 if n.endswith("0") else 0.0 for n in cycle.names])

    profile = build_profile()
    assert profile.scores_by_state
    mixed = replace(profile, scorers=(*profile.scorers, (ByName(), 1.0)))
    assert not mixed.scores_by_state
    state = ClusterState({"n0": _t4("n0"), "n1": _t4("n1")})
    got = _batch_scores(CycleState(state, pod(gpu=GpuRequest("whole", 1)), ["n0", "n1"]), mixed)
    assert got is not None and got[0] - got[1] == pytest.approx(1.0)  # told apart by name


def test_a_subset_cycle_names_its_candidates_in_order() -> None:
    state = ClusterState({n: _t4(n) for n in ("a", "b", "c")})
    cycle = CycleState(state, pod(gpu=GpuRequest("whole", 1)), ["a", "b", "c"])
    sub = cycle.subset(np.array([2, 0], np.intp))
    assert list(sub.names) == ["c", "a"] and sub.names[-1] == "a" and sub.names[:1] == ["c"]
    assert sub.rows.tolist() == [cycle.rows[2], cycle.rows[0]] and len(sub.names) == 2


def test_the_state_table_starts_over_past_its_cap(monkeypatch) -> None:
    """Past its cap (here: any entry at all) the table is replaced and every id recomputed:
    rows of one state still share an id, and other rows still do not."""
    monkeypatch.setattr(fleet_index, "STATES_PER_ROW", 0)
    monkeypatch.setattr(fleet_index, "MIN_STATES", 0)
    state = ClusterState({"a": _t4("a"), "b": _t4("b"), "c": _t4("c", n=3)})
    idx = state.fleet()
    rows = idx.rows_of(["a", "b", "c"])[0]
    first = idx.state_ids()[rows].tolist()
    serial = idx._states.serial
    again = idx.state_ids()[rows].tolist()  # the table holds 2 states > 0: started over
    assert idx._states.serial != serial
    assert first[0] == first[1] != first[2] and again[0] == again[1] != again[2]
    assert sum(1 for k in idx.row_memo if k[:1] == ("state-id",)) == 1  # the old ids dropped


def test_fewer_candidates_than_grouped_from_are_judged_row_by_row() -> None:
    """`_groups` forms no groups under `GROUPED_FROM` candidates, and does from it on (the
    fill's fleets of hundreds of nodes keep the by-state path); either way the answers are
    the same (the property above, here with the module's threshold lifted)."""
    from scheduler.policy.model import ClusterState

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(filtering, "GROUPED_FROM", 64)
        few = ClusterState({f"n{i:02}": _t4(f"n{i:02}") for i in range(63)})
        many = ClusterState({f"n{i:02}": _t4(f"n{i:02}") for i in range(64)})
        assert _groups(CycleState(few, pod(), sorted(few.nodes))) is None
        assert _groups(CycleState(many, pod(), sorted(many.nodes))) is not None
        for state in (few, many):
            p = pod(gpu=GpuRequest("milli", milli=500), cpu_milli=1000)
            names = sorted(state.nodes)
            assert run_scores(state, p, names, ON).ints == run_scores(state, p, names, OFF).ints
