"""A gang whose planning raises must not take every other pod's filter with it. One pending pod
labelled into a gang with `tessera.io/gang-min-member: "600"` (a legal minimum, at most 4096)
made the keep's drain planner (`scheduler.policy.gang.drain_budgets`, which stacked one state
per member) raise RecursionError: out of the 2 s `recover` pass, and out of every GPU pod's
filter (a 500) while that gang waited first. Two fixes, a test each: a gang whose plan raises
gets a failed plan with the reason (retried as any failed plan), the other gangs and pods
decided as before; and the planner no longer stacks a state per member
(`ClusterState.with_allocations` adds to the first state), so that gang is planned like any."""

from __future__ import annotations

from scheduler.state.extender import Extender, Timing
from scheduler.state.store import ClusterStore
from tests.builders import event, gang_member_json, gpu_json, node_json, pod_json
from tests.scheduler.state.conftest import Clock, RecordingBinder

NODES = [f"n{i}" for i in range(200)]


def cluster() -> Extender:
    ext = Extender(ClusterStore(), RecordingBinder(), clock=Clock(), timing=Timing(bind_wait_s=0))
    for i, n in enumerate(NODES):
        ext.store.apply(event(node_json(n, [gpu_json(g) for g in range(8)])))
        ext.store.apply(event(pod_json(f"busy{i}", {"nvidia.com/gpu": "4"}, node=n,
                                       phase="Running")))  # fmt: skip
    return ext


def huge_member(name: str) -> dict:
    return gang_member_json(name, {"nvidia.com/gpu": "1"}, "huge", 600)


def test_a_gang_of_600_members_is_planned_and_other_pods_still_decided() -> None:
    ext = cluster()
    for i in range(2):
        ext.store.apply(event(huge_member(f"h{i}")))
    ext.recover_gangs()  # raised RecursionError before the planner added to one state
    s = pod_json("s", {"nvidia.com/gpu": "1"})
    ext.store.apply(event(s))
    result = ext.filter(s, NODES)
    # The gang fits now: its plan holds 600 of the 800 free GPUs (all 4 free on each of 150
    # nodes), and the single pod goes to one of the other 50 nodes.
    assert result.error == "" and len(result.passed) == 50
    own = ext.filter(huge_member("h0"), NODES)
    assert own.error == "" and own.gang_outcome != "failed"


def raising_planner_stand_in(*args: object, **kwargs: object) -> object:
    raise RecursionError("maximum recursion depth exceeded")


def test_a_gang_whose_planning_raises_does_not_fail_other_pods(monkeypatch) -> None:
    for planner in ("gangs.plan_members", "drain_nodes.drain_budgets"):
        monkeypatch.setattr(f"scheduler.state.{planner}", raising_planner_stand_in)
    ext = cluster()
    for i in range(2):
        ext.store.apply(event(huge_member(f"h{i}")))
    ext.recover_gangs()  # raised RecursionError
    s = pod_json("s", {"nvidia.com/gpu": "1"})
    ext.store.apply(event(s))
    result = ext.filter(s, NODES)  # raised RecursionError
    assert result.error == "" and len(result.passed) == len(NODES)
    own = ext.filter(huge_member("h0"), NODES)  # the gang's own member: failed, one line
    assert own.passed == [] and own.gang_outcome == "failed"
    reasons = set(own.failed.values()) | set(own.unresolvable.values())
    assert any("planning gang default/huge failed" in r for r in reasons), reasons
