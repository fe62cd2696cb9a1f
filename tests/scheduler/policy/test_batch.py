"""The batch path gives exactly the per-node path's verdicts and scores, and its index stays
in step.

One-sentence property: for any cluster, allocations and pod, every node's verdict (pass /
unschedulable / unresolvable) from `run_filters` on the plugins' batch methods equals the
per-node path's (`Profile(batch=False)`), also after the index was updated row by row from an
older state; and so do the scores.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.policy.framework import (
    BatchFilterPlugin,
    BatchScorePlugin,
    run_filters,
    run_scores,
    score_breakdown,
)
from scheduler.policy.model import (
    UNKNOWN_INDEX,
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
from scheduler.policy.registry import FILTERS, SCORERS, build_profile, default_profile
from scheduler.policy.rules import HealthThresholds, LoadSettings
from scheduler.policy.status import Code
from tests.builders import H100, H100_MIB, pod
from tests.scheduler.policy.batch_paths import (
    PER_NODE,
    applicable,
    fast_filter,
    fast_scores,
    fast_scores_applicable,
    plugin_values,
)

A100 = "NVIDIA A100-SXM4-40GB"
PROFILE = default_profile()

T4 = "T4"  # a model the catalogue lacks (the Alibaba trace's): shares and whole GPUs only
MIB_OF = {A100: 40960, T4: 15360}

gpus = st.builds(
    lambda i, model, mig, layout, sick: Gpu(
        i, f"G{i}", model, MIB_OF.get(model, H100_MIB), mig,
        tuple(MigSlot(*x) for x in layout) if mig and model == H100 else (),
        GpuHealth(ecc_uncorrectable=1) if sick else GpuHealth(),
    ),
    st.just(0), st.sampled_from([H100, H100, A100, T4]), st.booleans(),
    st.sampled_from([[], [("3g.40gb", 4, True)], [("3g.40gb", 4, False), ("1g.10gb", 0, False)],
                     [("4g.40gb", 0, True), ("3g.40gb", 4, False)]]),
    st.integers(0, 9).map(lambda x: x == 0),
)  # fmt: skip


@st.composite
def clusters(draw):
    nodes = {}
    for n in range(draw(st.integers(1, 6))):
        gs = draw(st.lists(gpus, max_size=4))
        gs = [Gpu(i, g.uuid, g.model, g.memory_mib, g.mig_enabled, g.instances, g.health)
              for i, g in enumerate(gs)]  # fmt: skip
        pool = draw(st.sampled_from([{}, {}, {"1g.10gb": 2}]))
        nodes[f"n{n}"] = Node(f"n{n}", gpus=tuple(gs), mig_pool=pool)
    allocs = {}
    for k in range(draw(st.integers(0, 6))):
        n = draw(st.sampled_from(sorted(nodes)))
        grant = draw(st.sampled_from([
            GpuGrant(UNKNOWN_INDEX), GpuGrant(UNKNOWN_INDEX, milli=400, memory_mib=30000),
            GpuGrant(UNKNOWN_INDEX, profile="1g.10gb"), GpuGrant(0, profile="2g.20gb", start=0),
            GpuGrant(1, profile="3g.40gb", start=4),
        ]))  # fmt: skip
        cpu = draw(st.sampled_from([0, 4000, 20000]))  # some nodes' free CPU runs low
        allocs[f"u{k}"] = Allocation(f"d/u{k}", f"u{k}", Placement(n, (grant,)), cpu_milli=cpu)
    return ClusterState(nodes, allocs)


requests = st.sampled_from([
    GpuRequest("whole", 1), GpuRequest("whole", 2), GpuRequest("milli", milli=500),
    GpuRequest("milli", milli=300, memory_mib=50000), GpuRequest("mig", 1, "3g.40gb"),
    GpuRequest("mig", 2, "1g.10gb"), GpuRequest("mig", 1, "3g.40gb", dynamic=True),
    GpuRequest("mig", 2, "2g.20gb", dynamic=True), GpuRequest("mig", 1, "1g.5gb", dynamic=True),
    GpuRequest("mig", 3, "1g.10gb", dynamic=True), GpuRequest("mig", 3, "1g.10gb"),
    None,  # a CPU-only pod
])  # fmt: skip
products = st.sampled_from([None, frozenset({"NVIDIA-H100-80GB-HBM3"}), frozenset({"A100-40GB"}),
                            frozenset({T4, "A100-40GB"})])  # fmt: skip


def _verdicts(state, p, names):
    statuses = run_filters(state, p, names, PER_NODE)
    return {n: s.code if s.code is not Code.ERROR else Code.UNSCHEDULABLE
            for n, s in statuses.items()}  # fmt: skip


def _fast(state, p, names):
    out = fast_filter(state, p, names, PROFILE)
    v = {n: Code.SUCCESS for n in out.passed}
    v.update({n: Code.UNSCHEDULABLE for n in out.failed})
    v.update({n: Code.UNSCHEDULABLE_AND_UNRESOLVABLE for n in out.unresolvable})
    return v, out


@settings(max_examples=200, deadline=None)
@given(clusters(), requests, products)
def test_fast_filter_equals_plugins(state, req, allowed) -> None:
    p = pod(gpu=req, allowed_products=allowed)
    names = [*sorted(state.nodes), "ghost"]
    assert applicable(state, p, PROFILE)
    got, out = _fast(state, p, names)
    assert got == _verdicts(state, p, names)
    assert out.passed == [n for n in names if n in out.passed]  # input order kept


@settings(max_examples=100, deadline=None)
@given(clusters(), clusters(), requests)
def test_index_updated_row_by_row_equals_fresh_build(old, new, req) -> None:
    """Property: seeding from an older state's index and updating the changed rows gives the
    same verdicts as building the index from scratch."""
    old.fleet()
    changed = set(old.nodes) | set(new.nodes)
    seeded = ClusterState(new.nodes, new.allocations, _seed=old.seed_for(changed))
    fresh = ClusterState(new.nodes, new.allocations)
    p = pod(gpu=req)
    names = sorted(new.nodes)
    assert _fast(seeded, p, names)[0] == _fast(fresh, p, names)[0] == _verdicts(fresh, p, names)


def _dropped(state: ClusterState, keep: list[bool]) -> tuple[ClusterState, set[str]]:
    """`state` without the allocations `keep` says False to, and the nodes that touched."""
    items = list(state.allocations.items())
    kept = {k: a for (k, a), yes in zip(items, keep, strict=False) if yes}
    gone = {a.placement.node for k, a in items if k not in kept}
    return ClusterState(state.nodes, kept), gone


@settings(max_examples=100, deadline=None)
@given(clusters(), requests, st.lists(st.booleans(), min_size=6, max_size=6),
       st.lists(st.booleans(), min_size=6, max_size=6))  # fmt: skip
def test_row_memos_inherited_down_a_chain_of_updates_equal_fresh(a, req, keep1, keep2) -> None:
    """Property: per-row memos survive a chain of row updates (a -> b -> c, each dropping some
    allocations) whichever state asks first: c before b (memos inherited through an index
    that never used them), then b, then a again (its stale rows filled in place)."""
    b0, touched_b = _dropped(a, keep1)
    c0, touched_c = _dropped(b0, keep2)
    p = pod(gpu=req)
    names = sorted(a.nodes)
    _fast(a, p, names)
    if fast_scores_applicable(p, PROFILE):
        fast_scores(a, p, names, PROFILE)
    b = ClusterState(b0.nodes, b0.allocations, _seed=a.seed_for(touched_b))
    b.fleet()  # b's index exists before c's but has used no memo yet
    c = ClusterState(c0.nodes, c0.allocations, _seed=b.seed_for(touched_c))
    for state in (c, b, a):
        fresh = ClusterState(state.nodes, state.allocations)
        assert _fast(state, p, names)[0] == _fast(fresh, p, names)[0]
        if fast_scores_applicable(p, PROFILE):
            assert fast_scores(state, p, names, PROFILE) == fast_scores(fresh, p, names, PROFILE)


@settings(max_examples=150, deadline=None)
@given(clusters(), requests, st.data())
def test_fast_filter_equals_plugins_for_planned_gangs(state, req, data) -> None:
    """Property: with a gang plan in the state (open slots, a slot already claimed by this
    member, or a failed plan) the vector path still gives the plugins' verdicts."""
    from scheduler.policy.model import GangPlanRecord, GangRef

    names = sorted(state.nodes)
    slots = tuple(
        Placement(n, ()) for n in data.draw(st.lists(st.sampled_from([*names, "gone"]), max_size=4))
    )
    mine = data.draw(st.sampled_from([None, *range(len(slots))]))
    members = {} if mine is None else {"uid-default/p": mine}
    reason = data.draw(st.sampled_from(["", "", "does not fit"]))
    wanted = data.draw(st.sampled_from([(), tuple(req for _ in slots)]))
    plan = GangPlanRecord("d/g", slots, 1e9, members, reason, requests=wanted)
    state = ClusterState(state.nodes, state.allocations, gangs={"d/g": plan})
    p = pod(gpu=req, gang=GangRef("d/g", 2))
    assert applicable(state, p, PROFILE)
    got, _ = _fast(state, p, [*names, "ghost"])
    assert got == _verdicts(state, p, [*names, "ghost"])


share_requests = st.sampled_from([
    GpuRequest("whole", 1), GpuRequest("whole", 2), GpuRequest("milli", milli=500),
    GpuRequest("milli", milli=300, memory_mib=50000), GpuRequest("milli", milli=250),
    GpuRequest("mig", 1, "3g.40gb", dynamic=True), GpuRequest("mig", 1, "1g.10gb", dynamic=True),
    GpuRequest("mig", 1, "2g.20gb", dynamic=True), GpuRequest("mig", 1, "3g.40gb"),
    GpuRequest("mig", 1, "1g.10gb"), GpuRequest("mig", 2, "1g.10gb"),  # GFD pool devices
    GpuRequest("mig", 3, "1g.10gb", dynamic=True), GpuRequest("mig", 2, "3g.40gb", dynamic=True),
    None,  # a CPU-only pod
])  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(clusters(), clusters(), clusters(), clusters(), share_requests)
def test_index_memos_follow_a_branching_lineage(old, mid, other, new, req) -> None:
    """Property: per-row memos shared down a lineage of updated indexes (old -> mid -> new,
    and old -> other after mid extended the change log) give each state the scores of an
    index built from scratch."""
    p = pod(gpu=req, cpu_milli=2000)

    def check(state: ClusterState) -> None:
        names = sorted(state.nodes)
        fresh = ClusterState(state.nodes, state.allocations)
        assert fast_scores(state, p, names, PROFILE) == fast_scores(fresh, p, names, PROFILE)

    def seeded(after: ClusterState, before: ClusterState) -> ClusterState:
        changed = set(before.nodes) | set(after.nodes)
        return ClusterState(after.nodes, after.allocations, _seed=before.seed_for(changed))

    check(old)
    mid = seeded(mid, old)
    check(mid)
    other = seeded(other, old)
    check(other)
    check(seeded(new, mid))
    check(old)  # the oldest index still answers for its own state


@st.composite
def loaded(draw, state):
    """The same cluster with live load on some GPUs, some of it stale (observed long ago)."""
    nodes = {}
    for name, n in state.nodes.items():
        gs = []
        for g in n.gpus:
            # now = 1000: 500 is stale; 1300 is the clock skew allowed; 1e9 is from the future
            when = draw(st.sampled_from([None, 990.0, 500.0, 1300.0, 1e9]))
            load = None if when is None else GpuLoad(draw(st.floats(0, 100)), 1000, 200.0, when)
            gs.append(Gpu(g.index, g.uuid, g.model, g.memory_mib, g.mig_enabled, g.instances,
                          g.health, load))  # fmt: skip
        nodes[name] = Node(name, gpus=tuple(gs), mig_pool=n.mig_pool, cpu_milli=32000)
    return ClusterState(nodes, state.allocations, now=1000.0)


@settings(max_examples=150, deadline=None)
@given(
    st.data(), clusters(), share_requests, st.sampled_from([None, "batch", "latency"]),
    st.sampled_from([0, 2000, 16000]),
)  # fmt: skip
def test_fast_scores_equal_plugins(data, base, req, qos, cpu) -> None:
    """Property: vectorised prioritize gives the plugins' integer scores (exact ties in the
    weighted mean may round differently after float reassociation: allow 1 point)."""
    state = data.draw(loaded(base))
    p = pod(gpu=req, qos=qos, cpu_milli=cpu)
    names = [*sorted(state.nodes), "ghost"]
    assert fast_scores_applicable(p, PROFILE)
    got = dict(zip(names, fast_scores(state, p, names, PROFILE), strict=True))
    want = run_scores(state, p, [n for n in names if n in state.nodes], PER_NODE)
    assert got["ghost"] == 0
    for n in state.nodes:
        assert abs(got[n] - want[n]) <= 1, (n, got[n], want[n])
    # Each scorer's raw value equals the plugin's, node by node (NaN: row left to the plugins).
    values = plugin_values(state, p, names, PROFILE)
    for i, n in enumerate(names[:-1]):
        raw = score_breakdown(state, p, n, PROFILE)
        for name, vec in values.items():
            if vec[i] == vec[i]:
                assert vec[i] == pytest.approx(raw[name], abs=1e-9), (n, name)


def test_fast_scores_exact_on_a_plain_case() -> None:
    # Two idle H100 nodes, one with a 500 share on GPU 0: a 500 share fills that GPU exactly.
    # Binpack: busy node (0.5 + 0.5 + 0) / 2 = 0.5 vs idle (0.5 + 0) / 2 = 0.25;
    # Fragmentation: 0 increase on the busy node -> 0.5, the idle one strands 500 of a fresh
    # GPU for 500-shapes -> also 0 -> 0.5; load: nothing reported -> 0.5 each; no demand seen:
    # ModelReserve 1 each; no demand kept: Consolidate and CpuFed 1 each. Default weights F 1 /
    # R 0.3 / L 0.3 / B 0.03 / C 0.06 / CpuFed 1 (sum 2.69): busy (0.5 + 0.3 + 0.15 + 0.015 +
    # 0.06 + 1) / 2.69 = 0.7528 -> 8 of 10, 75 of 100; idle (0.5 + 0.3 + 0.15 + 0.0075 + 0.06
    # + 1) / 2.69 = 0.75 exactly, just under it in floating point (both paths sum alike) -> 7
    # of 10, 75 of 100: Binpack's 0.28 of a level splits the 0..10 scale only because busy sits
    # just past the rounding edge; the 0..100 levels tie.
    busy = Node("busy", gpus=(Gpu(0, "a", H100, H100_MIB), Gpu(1, "b", H100, H100_MIB)))
    idle = Node("idle", gpus=(Gpu(0, "c", H100, H100_MIB), Gpu(1, "d", H100, H100_MIB)))
    held = Allocation("d/x", "x", Placement("busy", (GpuGrant(0, milli=500),)))
    state = ClusterState({"busy": busy, "idle": idle}, {"x": held})
    p = pod(gpu=GpuRequest("milli", milli=500))
    got = dict(zip(["busy", "idle"], fast_scores(state, p, ["busy", "idle"], PROFILE), strict=True))
    want = run_scores(state, p, ["busy", "idle"], PER_NODE)
    assert got == want == {"busy": 8, "idle": 7}
    assert run_scores(state, p, ["busy", "idle"], PROFILE).levels == want.levels == [75, 75]


def test_deleted_then_readded_node_is_known_again() -> None:
    """Name lookups memoised on an index are not reused when a node comes back."""
    n = Node("a", gpus=(Gpu(0, "g", H100, H100_MIB),))
    one = ClusterState({"a": n})
    p = pod(gpu=GpuRequest("whole", 1))
    assert fast_filter(one, p, ["a"], PROFILE).passed == ["a"]
    two = ClusterState({}, _seed=one.seed_for({"a"}))
    assert "a" in fast_filter(two, p, ["a"], PROFILE).failed
    three = ClusterState({"a": n}, _seed=two.seed_for({"a"}))
    assert fast_filter(three, p, ["a"], PROFILE).passed == ["a"]


@st.composite
def warm(draw, state):
    """The same cluster with GPU temperatures around the limits (no `over_temperature` flag:
    only the health filter's own threshold judges them)."""
    nodes = {}
    for name, n in state.nodes.items():
        gs = []
        for g in n.gpus:
            t = draw(st.sampled_from([None, 50.0, 80.0, 85.0, 86.0, 88.0, 92.0]))
            h = GpuHealth(g.health.xid_recent, g.health.ecc_uncorrectable, temperature_c=t)
            gs.append(Gpu(g.index, g.uuid, g.model, g.memory_mib, g.mig_enabled, g.instances, h))
        nodes[name] = Node(name, gpus=tuple(gs), mig_pool=n.mig_pool)
    return ClusterState(nodes, state.allocations)


@settings(max_examples=120, deadline=None)
@given(st.data(), clusters(), requests, st.sampled_from([75.0, 85.0, 87.0, 95.0]))
def test_configured_health_limit_keeps_the_batch_path_and_its_verdicts(data, base, req, limit):
    """Property: with any temperature limit (thresholds.temperature_c), the batch path is still
    taken and gives the per-node path's verdicts."""
    state = data.draw(warm(base))
    args = {"GpuHealth": HealthThresholds(max_temperature_c=limit)}
    batch_profile = build_profile(args=args)
    per_node = replace(batch_profile, batch=False)
    p = pod(gpu=req)
    names = [*sorted(state.nodes), "ghost"]
    got = run_filters(state, p, names, batch_profile)
    assert applicable(state, p, batch_profile)
    want = run_filters(state, p, names, per_node)
    assert {n: got[n].code for n in names} == {n: want[n].code for n in names}
    assert got.passed == want.passed


@settings(max_examples=100, deadline=None)
@given(
    st.data(), clusters(), share_requests, st.sampled_from([None, "batch", "latency"]),
    st.sampled_from([LoadSettings(max_age_s=30.0), LoadSettings(default_qos="batch"),
                     LoadSettings(max_age_s=600.0)]),
)  # fmt: skip
def test_configured_load_settings_keep_the_batch_path_and_its_scores(data, base, req, qos, ls):
    """Property: non-default load settings (thresholds.max_age_s) keep the batch path, with
    the per-node path's scores (1 point for ties that round apart after reassociation)."""
    state = data.draw(loaded(base))
    batch_profile = build_profile(args={"GpuLoad": ls})
    p = pod(gpu=req, qos=qos)
    names = [*sorted(state.nodes), "ghost"]
    assert fast_scores_applicable(p, batch_profile)
    got = run_scores(state, p, names, batch_profile)
    want = run_scores(state, p, names, replace(batch_profile, batch=False))
    for n in names:
        assert abs(got[n] - want[n]) <= 1, (n, got[n], want[n])
    values = plugin_values(state, p, names, batch_profile)["GpuLoad"]
    for i, n in enumerate(names[:-1]):
        if values[i] == values[i]:
            raw = score_breakdown(state, p, n, batch_profile)["GpuLoad"]
            assert values[i] == pytest.approx(raw)


BATCH_FILTERS = sorted(n for n, f in FILTERS.items() if isinstance(f.new(None), BatchFilterPlugin))
BATCH_SCORERS = sorted(n for n, f in SCORERS.items() if isinstance(f.new(None), BatchScorePlugin))


@pytest.mark.parametrize("plugin", BATCH_FILTERS)
@settings(max_examples=60, deadline=None)
@given(base=clusters(), req=requests, allowed=products)
def test_each_batch_filter_alone_equals_its_per_node_method(plugin, base, req, allowed) -> None:
    """Property, per registered filter: a profile of that filter alone gives the same verdict
    codes on the batch path as on the per-node path."""
    prof = build_profile(filters=[plugin], weights={})
    p = pod(gpu=req, allowed_products=allowed)
    names = [*sorted(base.nodes), "ghost"]
    got = run_filters(base, p, names, prof)
    want = run_filters(base, p, names, replace(prof, batch=False))
    assert {n: got[n].code for n in names} == {n: want[n].code for n in names}


@pytest.mark.parametrize("plugin", BATCH_SCORERS)
@settings(max_examples=60, deadline=None)
@given(data=st.data(), base=clusters(), req=share_requests, cpu=st.sampled_from([0, 16000]))
def test_each_batch_scorer_alone_equals_its_per_node_method(plugin, data, base, req, cpu):
    """Property, per registered scorer: its batch values equal `score` node by node wherever
    the batch path judges the row (NaN rows go to the per-node path)."""
    state = data.draw(loaded(base))
    prof = build_profile(weights={plugin: 1.0})
    p = pod(gpu=req, cpu_milli=cpu)
    names = sorted(state.nodes)
    values = plugin_values(state, p, names, prof)[plugin]
    for i, n in enumerate(names):
        if values[i] == values[i]:
            assert values[i] == pytest.approx(score_breakdown(state, p, n, prof)[plugin], abs=1e-9)
