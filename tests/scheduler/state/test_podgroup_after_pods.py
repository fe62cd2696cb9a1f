"""A PodGroup created (or changed) after its pods: the pods were folded with the minMember of the
moment (1, or their annotation) and kept it, while a filter read the PodGroup's. The gang's
members then disagreed: `recover` saw a 4-member gang with 1 bound as complete (its minimum 1)
and never held the missing members' GPUs again, and the keep pass planned one member only."""

from __future__ import annotations

from scheduler.state.extender import Extender
from scheduler.state.store import ClusterStore
from tests.builders import event, pod_json
from tests.scheduler.state.conftest import Clock, RecordingBinder
from tests.scheduler.state.gang_cluster import add_nodes

GROUP = {"scheduling.x-k8s.io/pod-group": "train"}


def podgroup(min_member: object, name: str = "train") -> dict:
    return {"kind": "PodGroup", "metadata": {"name": name, "namespace": "default"},
            "spec": {"minMember": min_member}}  # fmt: skip


def member(i: int, node: str | None = None) -> dict:
    phase = "Running" if node else "Pending"
    return pod_json(f"m{i}", {"nvidia.com/gpu": 2}, labels=GROUP, node=node, phase=phase)


def test_pods_follow_a_podgroup_that_arrives_after_them() -> None:
    store = ClusterStore()
    for i in range(4):
        store.apply(event(member(i)))
    store.apply(event(podgroup(4)))
    assert {store.pod(f"default/m{i}").request.gang.min_member for i in range(4)} == {4}
    store.apply(event(podgroup(3), "MODIFIED"))
    assert store.pod("default/m0").request.gang.min_member == 3
    store.apply(event(podgroup(10**18), "MODIFIED"))  # bounded as when a pod is parsed
    assert store.pod("default/m0").request.gang.min_member == 4096


def test_recover_holds_the_missing_members_of_a_gang_whose_podgroup_came_late() -> None:
    ext = Extender(ClusterStore(), RecordingBinder(), clock=Clock())
    add_nodes(ext)
    ext.store.apply(event(member(0, node="a")))  # one member bound, three waiting
    for i in range(1, 4):
        ext.store.apply(event(member(i)))
    ext.store.apply(event(podgroup(4)))
    assert ext.recover_gangs() == ["default/train"]  # partly bound: its plan is held again
    plan = ext.store.ledger.gang("default/train", ext.clock())
    assert plan is not None and len(plan.slots) == 3


def test_a_podgroup_of_another_namespace_or_name_changes_nothing() -> None:
    store = ClusterStore()
    store.apply(event(member(0)))
    other = podgroup(5)
    other["metadata"]["namespace"] = "elsewhere"
    store.apply(event(other))
    store.apply(event(podgroup(7, name="other")))
    assert store.pod("default/m0").request.gang.min_member == 1
