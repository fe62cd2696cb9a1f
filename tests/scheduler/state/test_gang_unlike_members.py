"""A gang whose members ask for different GPUs, created one after the other: the first member's
filter planned the missing member as a copy of itself (1 GPU), and the second member (8 GPUs)
then failed "no free slot left" for the plan's whole `gang_ttl_s` (120 s) on an idle cluster."""

from __future__ import annotations

from scheduler.state.extender import Extender, Timing
from scheduler.state.store import ClusterStore
from tests.builders import event, gang_member_json
from tests.scheduler.state.conftest import Clock, RecordingBinder
from tests.scheduler.state.gang_cluster import NODES, add_nodes


def cluster() -> Extender:
    ext = Extender(ClusterStore(), RecordingBinder(), clock=Clock(), timing=Timing(bind_wait_s=0))
    add_nodes(ext)
    return ext


def test_a_member_unlike_the_plan_gets_a_new_plan_at_once() -> None:
    ext = cluster()
    one = gang_member_json("a", {"nvidia.com/gpu": 1}, "g", 2)
    ext.store.apply(event(one))
    assert ext.filter(one, NODES).gang_outcome == "planned"
    eight = gang_member_json("b", {"nvidia.com/gpu": 8}, "g", 2)
    ext.store.apply(event(eight))
    result = ext.filter(eight, NODES)
    assert result.gang_outcome == "planned" and result.passed  # was "steered", no node
    assert ext.filter(one, NODES).passed  # the new plan has the 1-GPU member's slot too
    for name, pod in (("b", eight), ("a", one)):
        node = ext.filter(pod, NODES).passed[0]
        assert ext.bind(name, "default", f"uid-default-{name}", node) == ""


def test_a_plan_with_a_claimed_slot_or_an_unwatched_asker_is_kept() -> None:
    ext = cluster()
    one = gang_member_json("a", {"nvidia.com/gpu": 1}, "g", 2)
    ext.store.apply(event(one))
    ext.filter(one, NODES)
    forged = gang_member_json("z", {"nvidia.com/gpu": 8}, "g", 2)  # nobody created it
    assert ext.filter(forged, NODES).gang_outcome == "steered"
    node = ext.filter(one, NODES).passed[0]
    assert ext.bind("a", "default", "uid-default-a", node) == ""  # a slot is claimed
    eight = gang_member_json("b", {"nvidia.com/gpu": 8}, "g", 2)
    ext.store.apply(event(eight))
    assert ext.filter(eight, NODES).gang_outcome == "steered"
