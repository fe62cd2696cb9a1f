"""ClusterStore: watch events, PodGroups, relists, snapshots and the reservations ledger."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.policy.model import Allocation, GpuGrant, Placement
from scheduler.state.errors import StateError
from scheduler.state.reservations import Ledger
from scheduler.state.store import ClusterStore
from tests.builders import event, gpu_json, node_json, pod_json


def _podgroup(name: str, min_member: int) -> dict:
    return {"kind": "PodGroup", "apiVersion": "scheduling.x-k8s.io/v1alpha1",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"minMember": min_member}}  # fmt: skip


def test_events_add_modify_delete() -> None:
    s = ClusterStore()
    s.apply(event(node_json("a", [gpu_json(0)])))
    s.apply(event(node_json("a", [gpu_json(0), gpu_json(1)]), "MODIFIED"))
    assert len(s.snapshot(0).nodes["a"].gpus) == 2
    p = pod_json("p", {"nvidia.com/gpu": 1}, node="a", phase="Running")
    s.apply(event(p))
    assert "uid-default-p" in s.snapshot(0).allocations
    s.apply(event(p, "DELETED"))
    assert "uid-default-p" not in s.snapshot(0).allocations
    s.apply(event(node_json("a"), "DELETED"))
    assert s.snapshot(0).nodes == {}


@pytest.mark.parametrize(
    ("bad", "msg"),
    [({"type": "BOOKMARK", "object": {}}, "type and an object"),
     ({"type": "ADDED", "object": {"kind": "Secret"}}, "unsupported object kind 'Secret'")],
)  # fmt: skip
def test_bad_events_are_one_line_errors(bad, msg) -> None:
    with pytest.raises(StateError, match=msg):
        ClusterStore().apply(bad)


def test_podgroup_sets_min_member_and_relist_replaces_everything() -> None:
    s = ClusterStore()
    pg = _podgroup("g", 4)
    member = pod_json("m", {"nvidia.com/gpu": 1}, labels={"scheduling.x-k8s.io/pod-group": "g"})
    s.replace([member, pg, node_json("a", [gpu_json(0)])])  # PodGroups are read first
    rec = s.pod("default/m")
    assert rec is not None and rec.request.gang is not None and rec.request.gang.min_member == 4
    s.replace([node_json("b", [gpu_json(0)])])
    assert set(s.snapshot(0).nodes) == {"b"} and s.pod("default/m") is None


def test_snapshot_is_reused_until_something_changes() -> None:
    s = ClusterStore()
    s.apply(event(node_json("a", [gpu_json(0)])))
    one, two = s.snapshot(1.0), s.snapshot(2.0)
    assert one.nodes is two.nodes and one.allocations is two.allocations and two.now == 2.0
    s.apply(event(node_json("b", [gpu_json(0)])))
    assert s.snapshot(3.0).nodes is not one.nodes


def test_ledger_release_is_idempotent_and_expiry_is_by_time() -> None:
    led = Ledger()
    hold = Allocation("d/p", "u", Placement("a", (GpuGrant(0),)), expires_at=10.0)
    led.reserve("u", hold)
    assert led.get("u", 9.9) is not None and led.get("u", 10.0) is None  # 10 is the deadline
    assert led.next_expiry(0.0) == 10.0
    assert led.expire(10.0) == ["u"] and len(led) == 0
    assert led.release("u") is False and led.release("u") is False
    with pytest.raises(ValueError, match="needs an expiry"):
        led.reserve("v", Allocation("d/v", "v", Placement("a", ())))


def test_bound_pod_without_annotation_keeps_our_exact_hold() -> None:
    """The watch may show nodeName before the placement annotation: our hold's exact GPUs win
    over a first-fit guess, so nothing moves under the pod."""
    s = ClusterStore()
    s.apply(event(node_json("a", [gpu_json(0), gpu_json(1)])))
    exact = Placement("a", (GpuGrant(1, "GPU-0001"),))
    s.ledger.reserve("uid-default-p", Allocation("default/p", "uid-default-p", exact,
                                                 expires_at=100.0))  # fmt: skip
    s.apply(event(pod_json("p", {"nvidia.com/gpu": 1}, node="a", phase="Running")))
    assert s.snapshot(0).allocations["uid-default-p"].placement == exact
    assert s.ledger.get("uid-default-p", 0) is None  # the pod's own record now holds it


_gang_ops = st.lists(
    st.tuples(st.sampled_from(["upsert", "delete", "relist", "relist_without"]), st.integers(0, 5),
              st.sampled_from([None, "a", "b"])),
    max_size=30,
)  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(_gang_ops)
def test_the_gang_index_always_equals_a_scan_of_every_pod(seq) -> None:
    """Whatever the upserts (a pod may change gang), deletes and relists, each gang's pods and
    first-seen order from the index equal a scan of every pod."""
    store = ClusterStore()
    live: dict[int, dict] = {}
    for op, i, gang in seq:
        if op == "upsert":
            labels = {"tessera.io/gang": gang, "tessera.io/gang-min-member": "2"} if gang else None
            live[i] = pod_json(f"p{i}", {"nvidia.com/gpu": 1}, labels=labels)
            store.apply(event(live[i], "MODIFIED"))
        elif op == "delete" and i in live:
            store.apply(event(live.pop(i), "DELETED"))
        elif op == "relist":
            store.replace(list(live.values()))
        elif op == "relist_without":  # pod i was deleted while the watch was down
            live.pop(i, None)
            store.replace(list(live.values()))
        for g in ("default/a", "default/b"):  # gang names are namespaced
            scan = [r for r in store.pods() if r.request.gang and r.request.gang.name == g]
            assert sorted(p.uid for p in store.gang_pods(g)) == sorted(r.request.uid for r in scan)
            assert store.gang_first_seen(g) == min((r.order for r in scan), default=None)
