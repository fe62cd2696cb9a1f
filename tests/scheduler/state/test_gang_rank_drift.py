"""Waiting gangs whose pods were deleted and created again after the last `recover` pass (a Job
controller replacing its pods): each gang's live rank (first seen of its earliest pod) then
falls after the other's rank in the pass's queue. `earlier_first` planned the other gang first,
whose `ensure_plan` ran `earlier_first` for it, which planned the first gang first, and so on:
a RecursionError out of every GPU pod's filter (a 500) until the next pass."""

from __future__ import annotations

from scheduler.state.extender import Extender
from scheduler.state.store import ClusterStore
from tests.builders import event, gang_member_json, pod_json
from tests.scheduler.state.conftest import Clock, RecordingBinder
from tests.scheduler.state.gang_cluster import NODES, add_nodes, busy

EIGHT = {"nvidia.com/gpu": 8}


def member(name: str, group: str, uid: str) -> dict:
    return gang_member_json(name, EIGHT, group, 2, uid=uid)


def test_gangs_whose_ranks_drifted_past_each_other_do_not_recurse() -> None:
    ext = Extender(ClusterStore(), RecordingBinder(), clock=Clock())
    add_nodes(ext, [busy("r", "a", 8)])  # one node busy: neither gang fits, both wait
    names = [("g0", "g"), ("g1", "g"), ("h0", "h"), ("h1", "h")]
    for name, group in names:
        ext.store.apply(event(member(name, group, f"old-{name}")))
    ext.recover_gangs()  # the queue: g (first seen 2), then h (4)
    for name, group in names:  # all four replaced: g now first seen 6, h 8
        ext.store.apply(event(member(name, group, f"old-{name}"), "DELETED"))
        ext.store.apply(event(member(name, group, f"new-{name}")))
    s = pod_json("s", {"nvidia.com/gpu": 1})
    ext.store.apply(event(s))
    result = ext.filter(s, NODES)  # raised RecursionError
    assert result.error == "" and sorted([*result.passed, *result.failed]) == NODES
    g0 = member("g0", "g", "new-g0")
    assert ext.filter(g0, NODES).gang_outcome in ("planned", "failed")
