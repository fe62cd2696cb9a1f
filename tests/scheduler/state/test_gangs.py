"""Gangs: plan at the first member's filter, hold every slot, steer later members, expire."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.builders import event, gpu_json, node_json, pod_json

GANG = {"scheduling.x-k8s.io/pod-group": "train"}
MIN3 = {"tessera.io/gang-min-member": "3"}


def _setup(ext, sizes: dict[str, int]) -> None:
    for name, n in sizes.items():
        ext.store.apply(event(node_json(name, [gpu_json(i) for i in range(n)])))


def _member(i: int, gpus: int = 2) -> dict:
    return pod_json(f"w{i}", {"nvidia.com/gpu": gpus}, labels=GANG, annotations=MIN3)


def test_gang_is_planned_whole_and_members_are_steered(ext) -> None:
    # 3 members x 2 GPUs = 6 GPUs; a(4) + b(2) = 6 fits exactly; c(1) can host nobody.
    _setup(ext, {"a": 4, "b": 2, "c": 1})
    ms = [_member(i) for i in range(3)]
    for m in ms:
        ext.store.apply(event(m))
    r0 = ext.filter(ms[0], ["a", "b", "c"])
    assert r0.gang_outcome == "planned"
    assert sorted(r0.passed) == ["a", "b"]
    plan = ext.store.ledger.gang("default/train", ext.clock())
    assert plan is not None and sorted(s.node for s in plan.slots) == ["a", "a", "b"]
    # A stranger asking for 1 GPU finds every GPU held by the gang except c's.
    stranger = pod_json("s", {"nvidia.com/gpu": 1})
    ext.store.apply(event(stranger))
    assert ext.filter(stranger, ["a", "b", "c"]).passed == ["c"]
    # Members bind one by one; each takes a planned slot on its node.
    assert ext.bind("w0", "default", "uid-default-w0", "b") == ""
    r1 = ext.filter(ms[1], ["a", "b", "c"])
    assert r1.gang_outcome == "steered" and r1.passed == ["a"]
    assert "planned its free slots on a" in r1.failed["b"]
    assert ext.bind("w1", "default", "uid-default-w1", "a") == ""
    assert ext.bind("w2", "default", "uid-default-w2", "a") == ""
    nodes = sorted(c[3] for c in ext.binder.calls)
    assert nodes == ["a", "a", "b"]
    # No GPU was given twice: 3 members x 2 GPUs on distinct (node, index) pairs.
    used = [(c[3], g.index) for c in ext.binder.calls for g in c[4].gpus]
    assert len(used) == 6 and len(set(used)) == 6


def test_gang_that_cannot_fit_fails_every_node_naming_the_gang(ext) -> None:
    # 3 members x 4 GPUs = 12 > 4 + 2 + 1 = 7 GPUs in the cluster.
    _setup(ext, {"a": 4, "b": 2, "c": 1})
    ms = [_member(i, gpus=4) for i in range(3)]
    for m in ms:
        ext.store.apply(event(m))
    r = ext.filter(ms[0], ["a", "b", "c"])
    assert r.passed == [] and r.gang_outcome == "failed"
    reasons = {**r.failed, **r.unresolvable}
    assert set(reasons) == {"a", "b", "c"}
    assert all("default/train" in why for why in reasons.values())
    # Nothing is held for a failed gang.
    assert len(ext.store.ledger) == 0


def test_gang_holds_expire(ext, clock) -> None:
    _setup(ext, {"a": 4, "b": 2})
    ms = [_member(i) for i in range(3)]
    for m in ms:
        ext.store.apply(event(m))
    assert ext.filter(ms[0], ["a", "b"]).gang_outcome == "planned"
    stranger = pod_json("s", {"nvidia.com/gpu": 2})
    ext.store.apply(event(stranger))
    assert ext.filter(stranger, ["a", "b"]).passed == []
    clock.t += ext.timing.gang_ttl_s + 1  # nobody bound in time: the plan lapses
    assert sorted(ext.filter(stranger, ["a", "b"]).passed) == ["a", "b"]


def test_gang_with_minimum_already_bound_schedules_singly(ext) -> None:
    _setup(ext, {"a": 4})
    bound = [
        pod_json(f"w{i}", {"nvidia.com/gpu": 1}, labels=GANG, annotations=MIN3, node="a",
                 phase="Running")
        for i in range(3)
    ]  # fmt: skip
    for b in bound:
        ext.store.apply(event(b))
    extra = pod_json("w9", {"nvidia.com/gpu": 1}, labels=GANG, annotations=MIN3)
    ext.store.apply(event(extra))
    r = ext.filter(extra, ["a"])
    assert r.gang_outcome is None and r.passed == ["a"]  # 4 - 3 held = 1 free


def test_mig_gang_uses_exact_slices(ext) -> None:
    # Two MIG GPUs, dynamic 3g.40gb x 4 members: 2 per GPU (starts 0 and 4) -> exactly fits.
    ext.store.apply(event(node_json("m", [gpu_json(0, mig=True), gpu_json(1, mig=True)])))
    ms = [
        pod_json(f"g{i}", {"tessera.io/mig-3g.40gb": 1}, labels=GANG,
                 annotations={"tessera.io/gang-min-member": "4"})
        for i in range(4)
    ]  # fmt: skip
    for m in ms:
        ext.store.apply(event(m))
    assert ext.filter(ms[0], ["m"]).passed == ["m"]
    for i in range(4):
        assert ext.bind(f"g{i}", "default", f"uid-default-g{i}", "m") == ""
    got = sorted((g.index, g.start) for c in ext.binder.calls for g in c[4].gpus)
    assert got == [(0, 0), (0, 4), (1, 0), (1, 4)]


def test_members_only_take_slots_planned_for_their_own_request(ext) -> None:
    # leader asks 2 GPUs, worker 1; a has 2 GPUs, b has 1: the only plan is leader->a, worker->b.
    _setup(ext, {"a": 2, "b": 1})
    two = {"tessera.io/gang-min-member": "2"}
    leader = pod_json("leader", {"nvidia.com/gpu": 2}, labels=GANG, annotations=two)
    worker = pod_json("worker", {"nvidia.com/gpu": 1}, labels=GANG, annotations=two)
    for m in (leader, worker):
        ext.store.apply(event(m))
    assert ext.filter(worker, ["a", "b"]).passed == ["b"]  # planned now; steered to its slot
    plan = ext.store.ledger.gang("default/train", ext.clock())
    assert plan is not None and plan.status in ("optimal", "feasible", "greedy")
    # Binding the worker onto a would take the leader's slot: refused, nothing moves.
    assert ext.bind("worker", "default", "uid-default-worker", "a") != ""
    assert ext.bind("worker", "default", "uid-default-worker", "b") == ""
    assert ext.filter(leader, ["a", "b"]).passed == ["a"]
    assert ext.bind("leader", "default", "uid-default-leader", "a") == ""
    got = {c[1]: (c[3], len(c[4].gpus)) for c in ext.binder.calls}
    assert got == {"worker": ("b", 1), "leader": ("a", 2)}


def test_explain_shows_the_gang_plan(ext) -> None:
    import json

    _setup(ext, {"a": 4, "b": 2})
    ms = [_member(i) for i in range(3)]
    for m in ms:
        ext.store.apply(event(m))
    ext.filter(ms[0], ["a", "b"])
    doc = ext.explain("default/w1")
    json.dumps(doc)
    plan = doc["gang"]["plan"]
    assert doc["gang"]["name"] == "default/train" and doc["gang"]["min_member"] == 3
    assert sorted(s["node"] for s in plan["slots"]) == ["a", "a", "b"]
    assert plan["status"] in ("optimal", "feasible", "greedy")



def test_repeated_member_filters_index_the_fleet_once(ext, clock, monkeypatch) -> None:
    """A member's view hides its gang's held slots; that view must update the shared
    snapshot's fleet index row by row, not index every node again on each request (with the
    telemetry overlay, as `tessera serve` wires it, each request gets a fresh snapshot)."""
    from scheduler.policy.fleet_index import FleetIndex
    from scheduler.state.extender import Extender
    from scheduler.telemetry.hub import TelemetryHub

    clock.t = datetime(2026, 11, 26, 18, 0, 5, tzinfo=UTC).timestamp()  # readings 5 s old
    ext = Extender(ext.store, ext.binder, clock=clock, telemetry=TelemetryHub([]))
    for name, n in {"a": 4, "b": 2, "c": 1}.items():  # GPUs report load: placements fold in
        gpus = [{**gpu_json(i), "load": {"utilization_pct": 10}} for i in range(n)]
        ext.store.apply(event(node_json(name, gpus)))
    ms = [_member(i) for i in range(3)]
    for m in ms:
        ext.store.apply(event(m))
    assert ext.filter(ms[0], ["a", "b", "c"]).gang_outcome == "planned"
    builds: list[int] = []
    real = FleetIndex.build.__func__  # type: ignore[attr-defined]

    def counted(cls: type[FleetIndex], caps: object) -> FleetIndex:
        builds.append(1)
        return real(cls, caps)

    monkeypatch.setattr(FleetIndex, "build", classmethod(counted))
    for _ in range(3):
        assert sorted(ext.filter(ms[1], ["a", "b", "c"]).passed) == ["a", "b"]
    assert len(builds) <= 1  # was 3: one whole-fleet build per request


def test_member_view_is_reused_until_the_store_changes(ext, monkeypatch) -> None:
    """Members' filters and prioritizes (and retries) on an unchanged store share one view
    that hides the gang's held slots; once a pod binds, the next request sees the change."""
    from scheduler.policy.model import ClusterState

    _setup(ext, {"a": 4, "b": 2, "c": 2})
    ms = [_member(i) for i in range(3)]
    for m in ms:
        ext.store.apply(event(m))
    views: list[int] = []
    real = ClusterState.without

    def counted(self: ClusterState, keys: set[str]) -> ClusterState:
        views.append(1)
        return real(self, keys)

    monkeypatch.setattr(ClusterState, "without", counted)
    first = ext.filter(ms[0], ["a", "b", "c"])
    assert first.gang_outcome == "planned" and len(views) == 1
    for m in (ms[1], ms[2], ms[1]):  # the same hidden slots, the same store: the same view
        again = ext.filter(m, ["a", "b", "c"])
        assert (again.passed, again.failed) == (first.passed, first.failed)
        ext.prioritize(m, ["a", "b", "c"])
    assert len(views) == 1
    # A stranger binds 2 GPUs on c, outside the plan: the store changed, so the member's
    # next request builds a new view (a stale one would still count c's GPUs as free).
    stranger = pod_json("s", {"nvidia.com/gpu": 2})
    ext.store.apply(event(stranger))
    assert ext.bind("s", "default", "uid-default-s", "c") == ""
    ext.filter(ms[1], ["a", "b", "c"])
    assert len(views) == 2


def test_a_partly_bound_gang_gets_its_missing_members_gpus_held_again(ext, clock) -> None:
    """A restarted extender (its predecessor killed between two members' binds): w0 of a gang
    of 3 is bound, w1 and w2 wait, no plan exists. `recover` plans the missing members, so a
    later stranger cannot take their GPUs and leave the gang part-run for good."""
    _setup(ext, {"a": 4, "b": 2})
    w0 = pod_json("w0", {"nvidia.com/gpu": 2}, labels=GANG, annotations=MIN3, node="b")
    ext.store.apply(event(w0))
    for i in (1, 2):
        ext.store.apply(event(_member(i)))
    stranger = pod_json("s", {"nvidia.com/gpu": 2})
    ext.store.apply(event(stranger))
    assert ext.store.ledger.gang("default/train", clock()) is None
    assert ext.recover_gangs() == ["default/train"]
    plan = ext.store.ledger.gang("default/train", clock())
    assert plan is not None and [s.node for s in plan.slots] == ["a", "a"]  # 2 x 2 GPUs on a
    assert ext.filter(stranger, ["a", "b"]).passed == []  # a's 4 GPUs held, b's 2 are w0's
    assert ext.recover_gangs() == []  # a live plan: nothing to do
    r1 = ext.filter(_member(1), ["a", "b"])
    assert r1.gang_outcome == "steered" and r1.passed == ["a"]
    # The plan lapses while the members back off: the next round holds the GPUs again.
    clock.t += ext.timing.gang_ttl_s + 1
    assert ext.recover_gangs() == ["default/train"]


def test_recover_leaves_waiting_and_complete_gangs_alone(ext) -> None:
    _setup(ext, {"a": 4, "b": 2})
    for i in range(3):  # nothing bound: an ordinary waiting gang, planned at its own filter
        ext.store.apply(event(_member(i)))
    other = {"scheduling.x-k8s.io/pod-group": "done"}
    for i in range(3):  # its minimum (3) bound, a 4th member waiting: schedules singly
        ext.store.apply(event(pod_json(f"d{i}", {"nvidia.com/gpu": 1}, labels=other,
                                       annotations=MIN3, node="a")))  # fmt: skip
    ext.store.apply(event(pod_json("d3", {"nvidia.com/gpu": 1}, labels=other, annotations=MIN3)))
    assert ext.recover_gangs() == []
    assert len(ext.store.ledger) == 0
