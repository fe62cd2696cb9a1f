"""The drain keep goes to the first waiting gang (`GangCoordinator.recover`), at the extender.

Gangs wait in one order: priority (higher first), then the order the store first saw the gang's
earliest pod. The periodic pass gives the keep to the first of them that does not fit now and
that drained nodes would host, whether or not any of its members ever reached `filter`
(kube-scheduler's NodeResourcesFit rejects a gang of 8-GPU members on every busy node, so the
extender never sees it there: benchmarks/RESULTS.md, Digital twin, round 6b).
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.policy.gang import drain_budgets, plan_members
from scheduler.state.gangs import FAILED_RETRY_S, KEEP_EXAMINED
from scheduler.state.store import ClusterStore
from tests.builders import event, gang_member_json, gpu_json, node_json, pod_json
from tests.scheduler.state.conftest import Clock, RecordingBinder

NODES = ["a", "b", "c"]
OLD, YOUNG = "default/old", "default/young"


def _cluster(ext, used: dict[str, int]) -> dict[str, dict]:
    """Three 4-GPU nodes; `used[n]` GPUs of node n taken by a running pod x<n>."""
    for n in NODES:
        ext.store.apply(event(node_json(n, [gpu_json(i) for i in range(4)])))
    busy = {n: pod_json(f"x{n}", {"nvidia.com/gpu": k}, node=n, phase="Running")
            for n, k in used.items()}  # fmt: skip
    for b in busy.values():
        ext.store.apply(event(b))
    return busy


def _gang(ext, group: str, size: int, gpus: int, priority: int | None = None) -> list[dict]:
    """`size` members of `gpus` GPUs each, added to the store now (first seen now)."""
    ms = [gang_member_json(f"{group}{i}", {"nvidia.com/gpu": gpus}, group, size,
                           priority=priority) for i in range(size)]  # fmt: skip
    for m in ms:
        ext.store.apply(event(m))
    return ms


def test_a_gang_that_never_reaches_filter_gets_the_keep_at_recover(ext) -> None:
    # Free: a 3, b 2, c 1 = 6 < 2 x 4. No member is filtered (kube-scheduler rejects them
    # itself); the pass keeps a and b (1 and 2 busy: the fewest to wait for) for it.
    _cluster(ext, {"a": 1, "b": 2, "c": 3})
    _gang(ext, "old", 2, 4)
    assert ext.gangs.keep is None
    ext.recover_gangs()
    assert ext.gangs.keep is not None and ext.gangs.keep.gang == OLD
    assert dict(ext.gangs.keep.nodes) == {"a": 4, "b": 4}
    small = pod_json("s", {"nvidia.com/gpu": 1})
    ext.store.apply(event(small))
    assert ext.filter(small, NODES).passed == ["c"]


def test_a_younger_gangs_keep_moves_to_the_older_waiting_gang(ext, clock) -> None:
    # Free: a 3, b 2, c 1. old (2 x 4) and young (2 x 3) both do not fit; only young's member
    # reaches filter, so young takes the keep there. The pass moves it to old (seen first);
    # young's next filter does not take it back, and old's filter renews it.
    _cluster(ext, {"a": 1, "b": 2, "c": 3})
    old = _gang(ext, "old", 2, 4)
    young = _gang(ext, "young", 2, 3)
    assert ext.filter(young[0], NODES).gang_outcome == "failed"
    assert ext.gangs.keep is not None and ext.gangs.keep.gang == YOUNG
    ext.recover_gangs()
    assert ext.gangs.keep is not None and ext.gangs.keep.gang == OLD
    clock.t += FAILED_RETRY_S + 1
    assert ext.filter(young[1], NODES).gang_outcome == "failed"
    assert ext.gangs.keep.gang == OLD
    assert ext.filter(old[0], NODES).gang_outcome == "failed"
    assert ext.gangs.keep.gang == OLD


def test_an_older_gang_takes_the_keep_at_its_own_filter(ext) -> None:
    # Same priority: a gang seen earlier takes the keep from a younger keeper at its filter
    # (before this change only a higher priority could).
    _cluster(ext, {"a": 1, "b": 2, "c": 3})
    old = _gang(ext, "old", 2, 4)
    young = _gang(ext, "young", 2, 3)
    ext.filter(young[0], NODES)
    assert ext.gangs.keep is not None and ext.gangs.keep.gang == YOUNG
    assert ext.filter(old[0], NODES).gang_outcome == "failed"
    assert ext.gangs.keep.gang == OLD


def test_the_keep_is_renewed_while_the_gang_waits_and_ends_when_it_starts(ext, clock) -> None:
    busy = _cluster(ext, {"a": 1, "b": 2, "c": 3})
    ms = _gang(ext, "old", 2, 4)
    ext.recover_gangs()
    first = ext.gangs.keep
    assert first is not None
    # Past the first keep's expiry, renewed by each pass (every 2 s in the service).
    for _ in range(3):
        clock.t += ext.timing.gang_ttl_s / 2
        ext.recover_gangs()
    assert ext.gangs.keep is not None and ext.gangs.keep.expires_at > first.expires_at + 100
    # The keep follows the drain: c empties; c (0 busy) and a (1 busy) now cost the least.
    ext.store.apply(event(busy["c"], "DELETED"))
    ext.recover_gangs()
    assert dict(ext.gangs.keep.nodes) == {"a": 4, "c": 4}
    ext.store.apply(event(busy["a"], "DELETED"))
    ext.recover_gangs()  # it fits now: it keeps its nodes until it starts
    assert ext.gangs.keep is not None and ext.gangs.keep.gang == OLD
    r = ext.filter(ms[0], NODES)
    assert r.gang_outcome == "planned" and ext.gangs.keep is None
    for i, n in enumerate(sorted(r.passed)):
        assert ext.bind(f"old{i}", "default", f"uid-default-old{i}", n) == ""
    ext.recover_gangs()
    assert ext.gangs.keep is None


def test_the_keep_lapses_once_no_pod_of_its_gang_is_pending(ext, clock) -> None:
    _cluster(ext, {"a": 1, "b": 2, "c": 3})
    ms = _gang(ext, "old", 2, 4)
    ext.recover_gangs()
    assert ext.gangs.keep is not None
    for m in ms:
        ext.store.apply(event(m, "DELETED"))
    ext.recover_gangs()
    assert ext.gangs.keep is None


def test_a_gang_that_fits_now_is_passed_over(ext) -> None:
    # Free: a 3, b 2, c 1. old (2 x 1) fits now: kube-scheduler places it; the keep goes to
    # young (2 x 4), which does not. With old alone there is no keep.
    _cluster(ext, {"a": 1, "b": 2, "c": 3})
    _gang(ext, "old", 2, 1)
    ext.recover_gangs()
    assert ext.gangs.keep is None
    _gang(ext, "young", 2, 4)
    ext.recover_gangs()
    assert ext.gangs.keep is not None and ext.gangs.keep.gang == YOUNG


def test_priority_beats_age(ext) -> None:
    _cluster(ext, {"a": 1, "b": 2, "c": 3})
    _gang(ext, "old", 2, 4)
    _gang(ext, "young", 2, 3, priority=5)
    ext.recover_gangs()
    assert ext.gangs.keep is not None and ext.gangs.keep.gang == YOUNG
    assert ext.gangs.keep.priority == 5


def test_a_gang_no_drained_set_would_host_gets_no_keep(ext) -> None:
    # 3 x 4 GPUs of nodes, a gang of 2 x 5: no node hosts a member even drained; the next
    # gang gets the keep.
    _cluster(ext, {"a": 1, "b": 2, "c": 3})
    _gang(ext, "old", 2, 5)
    _gang(ext, "young", 2, 4)
    ext.recover_gangs()
    assert ext.gangs.keep is not None and ext.gangs.keep.gang == YOUNG


def test_each_pass_plans_at_most_a_few_gangs_and_passes_over_hopeless_ones_later(ext) -> None:
    # KEEP_EXAMINED gangs of 2 x 5 GPUs (no 4-GPU node hosts a member, even drained) wait
    # before a 2 x 4 gang. The first pass plans only those; the next passes them over (for
    # NO_ROOM_RETRY_S) and the keep goes to the 2 x 4 gang.
    _cluster(ext, {"a": 1, "b": 2, "c": 3})
    for i in range(KEEP_EXAMINED):
        _gang(ext, f"big{i}", 2, 5)
    _gang(ext, "young", 2, 4)
    ext.recover_gangs()
    assert ext.gangs.keep is None
    ext.recover_gangs()
    assert ext.gangs.keep is not None and ext.gangs.keep.gang == YOUNG


def test_a_relist_keeps_the_first_seen_order(ext) -> None:
    _cluster(ext, {"a": 1, "b": 2, "c": 3})
    old = _gang(ext, "old", 2, 4)
    young = _gang(ext, "young", 2, 4)
    before = {m["metadata"]["uid"]: ext.store.first_seen(m["metadata"]["uid"])
              for m in old + young}  # fmt: skip
    # first seen 1..3 for the nodes' busy pods, then old 4, 5 and young 6, 7.
    assert list(before.values()) == [4, 5, 6, 7]
    late = pod_json("late", {"nvidia.com/gpu": 1})
    nodes = [node_json(n, [gpu_json(i) for i in range(4)]) for n in NODES]
    busy = [pod_json(f"x{n}", {"nvidia.com/gpu": k}, node=n, phase="Running")
            for n, k in {"a": 1, "b": 2, "c": 3}.items()]  # fmt: skip
    # The relist lists young first and a new pod before everyone: known UIDs keep theirs.
    ext.store.replace([late, *nodes, *busy, *reversed(young), *reversed(old)])
    assert {u: ext.store.first_seen(u) for u in before} == before
    assert ext.store.first_seen("uid-default-late") == 8
    ext.recover_gangs()
    assert ext.gangs.keep is not None and ext.gangs.keep.gang == OLD
    ext.store.apply(event(old[0], "DELETED"))
    assert ext.store.first_seen(old[0]["metadata"]["uid"]) is None


# ---- property ---------------------------------------------------------------------------

GANGS = st.lists(
    st.tuples(st.integers(1, 3), st.sampled_from([1, 2, 3, 4, 5]), st.sampled_from([0, 0, 5])),
    min_size=1, max_size=KEEP_EXAMINED,
)  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(
    used=st.lists(st.integers(0, 4), min_size=3, max_size=3),
    gangs=GANGS,
    filtered=st.one_of(st.none(), st.integers(0, KEEP_EXAMINED - 1)),
)
def test_after_recover_the_keep_is_the_first_waiting_gang_that_needs_it(
    used: list[int], gangs: list[tuple[int, int, int]], filtered: int | None
) -> None:
    """After recover there is at most one keep; if any, its gang has a waiting member and no
    waiting gang ranked before it (priority, then first seen) does not fit now while drained
    nodes would host it; with no keep, no waiting gang is such a gang."""
    from scheduler.state.extender import Extender

    clock = Clock()
    ext = Extender(ClusterStore(), RecordingBinder(), clock=clock)
    _cluster(ext, {n: k for n, k in zip(NODES, used, strict=True) if k})
    members = {}
    for i, (size, gpus, prio) in enumerate(gangs):
        members[f"default/g{i}"] = _gang(ext, f"g{i}", size, gpus, priority=prio)
    if filtered is not None and filtered < len(gangs):  # one member's filter came first
        ext.filter(members[f"default/g{filtered}"][0], NODES)
    ext.recover_gangs()
    keep = ext.gangs.keep
    now = clock.t
    snap = ext.store.snapshot(now)
    profile = ext.profile

    def waiting(gang: str) -> bool:
        recs = [ext.store.pod(m["metadata"]["uid"]) for m in members[gang]]
        plan = ext.store.ledger.gang(gang, now)
        live_plan = plan is not None and not plan.reason
        return not live_plan and all(r is not None and r.request.node_name is None for r in recs)

    def needs_keep(gang: str) -> bool:
        recs = [ext.store.pod(m["metadata"]["uid"]) for m in members[gang]]
        reqs = [r.request for r in recs if r is not None]
        names = sorted(snap.nodes)
        if plan_members(snap, reqs, names, profile, gang=gang).status != "infeasible":
            return False
        return bool(drain_budgets(snap, reqs, names, profile))

    def rank(gang: str) -> tuple[int, int]:
        i = int(gang.rsplit("g", 1)[1])
        orders = [ext.store.first_seen(m["metadata"]["uid"]) or 0 for m in members[gang]]
        return (-gangs[i][2], min(orders))

    ranked = sorted((g for g in members if waiting(g)), key=rank)
    if keep is None:
        assert not any(needs_keep(g) for g in ranked)
        return
    assert keep.gang in ranked, "the keeper has a waiting member"
    before = ranked[: ranked.index(keep.gang)]
    assert not any(needs_keep(g) for g in before)
