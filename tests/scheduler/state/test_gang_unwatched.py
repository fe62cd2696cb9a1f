"""Gang plans made at the filter of a member the watch has not delivered (round 10's named
leftover): a filter for a made-up 2 x 8-GPU gang member held both nodes of a 2 x 8 cluster for
`gang_ttl_s` (120 s), while a made-up single pod is held at most `unwatched_ttl_s` (5 s). The
plan's slots now follow the same cap; a plan made for a watched member keeps `gang_ttl_s`."""

from __future__ import annotations

from scheduler.state.extender import Extender, Timing
from scheduler.state.store import ClusterStore
from tests.builders import event, gang_member_json
from tests.scheduler.state.conftest import Clock, RecordingBinder
from tests.scheduler.state.gang_cluster import NODES, add_nodes, filter_single

EIGHT = {"nvidia.com/gpu": 8}


def cluster() -> tuple[Extender, Clock, RecordingBinder]:
    clock, binder = Clock(), RecordingBinder()
    ext = Extender(ClusterStore(), binder, clock=clock, timing=Timing(bind_wait_s=0.0))
    add_nodes(ext)
    return ext, clock, binder


def members(n: int = 2, group: str = "g") -> list[dict]:
    return [gang_member_json(f"{group}{i}", EIGHT, group, n) for i in range(n)]


def test_a_plan_for_an_unwatched_member_holds_its_slots_only_briefly() -> None:
    ext, clock, _ = cluster()
    assert ext.filter(members()[0], NODES).gang_outcome == "planned"  # nobody created it
    assert filter_single(ext, NODES, 8) == []  # both nodes held by the plan
    clock.t += ext.timing.unwatched_ttl_s + 0.1
    assert ext.store.ledger.gang("default/g", clock.t) is None
    assert filter_single(ext, NODES, 8) != []  # the made-up gang's slots are free again


def test_a_plan_for_a_watched_member_keeps_the_gang_ttl() -> None:
    ext, clock, _ = cluster()
    ms = members()
    for m in ms:
        ext.store.apply(event(m))
    assert ext.filter(ms[0], NODES).gang_outcome == "planned"
    clock.t += ext.timing.unwatched_ttl_s + 0.1
    assert filter_single(ext, NODES, 8) == []  # still held for the gang
    rec = ext.store.ledger.gang("default/g", clock.t)
    assert rec is not None and rec.expires_at - (clock.t - 5.1) == ext.timing.gang_ttl_s


def test_a_real_gang_whose_first_filter_beat_the_watch_still_starts() -> None:
    """kube-scheduler filters the first member milliseconds after it was created, before the
    watch has it: the short plan lapses, and the members' later filters plan again (now for
    watched pods) and bind."""
    ext, clock, binder = cluster()
    ms = members()
    assert ext.filter(ms[0], NODES).gang_outcome == "planned"
    for m in ms:
        ext.store.apply(event(m))
    clock.t += ext.timing.unwatched_ttl_s + 0.1
    for i, m in enumerate(ms):
        passed = ext.filter(m, NODES).passed
        assert passed, i
        assert ext.bind(f"g{i}", "default", f"uid-default-g{i}", passed[0]) == ""
    assert sorted(node for *_, node, _ in binder.calls) == ["a", "b"]


def test_snapshot_mode_keeps_the_gang_ttl() -> None:
    """No watch (`serve --snapshot`, no Binder): every pod is as the snapshot has it."""
    clock = Clock()
    ext = Extender(ClusterStore(), None, clock=clock)
    add_nodes(ext)
    assert ext.filter(members()[0], NODES).gang_outcome == "planned"
    clock.t += ext.timing.unwatched_ttl_s + 0.1
    assert ext.store.ledger.gang("default/g", clock.t) is not None
