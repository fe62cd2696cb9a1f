"""A `/bind` whose `PodUID` is a gang slot's ledger key (`gang:NS/NAME#i`, what the ledger holds a
planned slot under before a member claims it). The bind took the slot's hold as the pod's own:
an outsider pod was bound onto the gang's GPUs, and the member that then bound to its slot got
the same GPUs (with the real apiserver refusing the Binding's UID, the failed bind released the
slot's hold instead, so its GPUs looked free to every other pod)."""

from __future__ import annotations

from scheduler.policy.model import slot_key
from scheduler.state.extender import Extender, Timing
from scheduler.state.store import ClusterStore
from tests.builders import event, gang_member_json, pod_json
from tests.scheduler.state.conftest import Clock, RecordingBinder
from tests.scheduler.state.gang_cluster import NODES, add_nodes

EIGHT = {"nvidia.com/gpu": 8}


def planned() -> tuple[Extender, RecordingBinder]:
    binder = RecordingBinder()
    ext = Extender(ClusterStore(), binder, clock=Clock(), timing=Timing(bind_wait_s=0.0))
    add_nodes(ext)
    members = [gang_member_json(f"m{i}", EIGHT, "g", 2) for i in range(2)]
    for m in members:
        ext.store.apply(event(m))
    assert ext.filter(members[0], NODES).gang_outcome == "planned"
    ext.store.apply(event(pod_json("x", EIGHT)))
    return ext, binder


def test_a_bind_naming_a_slot_key_is_refused_and_the_slot_kept() -> None:
    ext, binder = planned()
    key = slot_key("default/g", 0)
    node = ext.store.ledger.get(key, ext.clock()).placement.node
    answer = ext.bind("x", "default", key, node)
    assert "not a pod's UID" in answer and not binder.calls
    assert ext.store.ledger.get(key, ext.clock()) is not None  # still held for the gang
    for i in range(2):
        assert ext.bind(f"m{i}", "default", f"uid-default-m{i}", NODES[i]) == ""
    gpus = [(node, g.index) for *_, node, p in binder.calls for g in p.gpus]
    assert len(gpus) == len(set(gpus)) == 16


def test_a_refused_binding_under_a_slot_key_does_not_free_the_slot() -> None:
    ext, binder = planned()
    binder.fail = True  # BindError, as the apiserver answers a Binding whose UID is not the pod's
    key = slot_key("default/g", 1)
    node = ext.store.ledger.get(key, ext.clock()).placement.node
    ext.bind("x", "default", key, node)
    assert ext.store.ledger.get(key, ext.clock()) is not None


def test_a_filter_for_a_pod_whose_uid_is_a_slot_key_takes_no_slot() -> None:
    """Its view hid the slot's hold as the pod's own, and its reservation replaced the hold
    (for 5 s, after which the slot's GPUs were free)."""
    ext, _ = planned()
    key = slot_key("default/g", 0)
    node = ext.store.ledger.get(key, ext.clock()).placement.node
    forged = pod_json("y", EIGHT, uid=key)
    result = ext.filter(forged, [node])
    assert result.passed == [] and "slot" in result.error
    assert ext.store.ledger.get(key, ext.clock()).gang == "default/g"  # the gang's, still


def test_a_filter_under_another_watched_pods_uid_is_refused() -> None:
    """The UID of a watched pod under another name: its filter passed as that pod's (the
    30 s `reservation_ttl_s`, not the 5 s cap of a pod nobody created) and its reservation
    replaced that pod's own hold."""
    ext = Extender(ClusterStore(), RecordingBinder(), clock=Clock(), timing=Timing(bind_wait_s=0))
    add_nodes(ext, nodes=["a"])
    ext.store.apply(event(pod_json("x", {"nvidia.com/gpu": "1"})))
    forged = pod_json("y", {"nvidia.com/gpu": "1"}, uid="uid-default-x")
    result = ext.filter(forged, ["a"])
    assert result.passed == [] and "default/x" in result.error
    assert ext.store.ledger.get("uid-default-x", ext.clock()) is None
