"""Nodes kept for a waiting gang (`scheduler.policy.gang.drain_targets`), at the extender.

The live gang path keeps the same drained-node reservation the replay simulator's tessera
policy keeps: the first gang that cannot start gets the fewest, least busy nodes that would
host it once drained; pods of its priority or lower do not take them until it starts.
"""

from __future__ import annotations

from scheduler.state.gangs import FAILED_RETRY_S
from tests.builders import event, gpu_json, node_json, pod_json

GANG = "default/train"
NODES = ["a", "b", "c"]


def _gang(name: str, gpus: int, group: str = "train", priority: int | None = None) -> dict:
    return pod_json(name, {"nvidia.com/gpu": gpus}, priority=priority,
                    labels={"scheduling.x-k8s.io/pod-group": group},
                    annotations={"tessera.io/gang-min-member": "2"})  # fmt: skip


def _busy(name: str, node: str, gpus: int) -> dict:
    return pod_json(name, {"nvidia.com/gpu": gpus}, node=node, phase="Running")


def _cluster(ext, used: dict[str, int]) -> dict[str, dict]:
    """Three 4-GPU nodes; `used[n]` GPUs of node n taken by a running pod x<n>."""
    for n in NODES:
        ext.store.apply(event(node_json(n, [gpu_json(i) for i in range(4)])))
    busy = {n: _busy(f"x{n}", n, k) for n, k in used.items()}
    for b in busy.values():
        ext.store.apply(event(b))
    return busy


def _waiting_gang(ext) -> list[dict]:
    ms = [_gang(f"w{i}", 4) for i in range(2)]
    for m in ms:
        ext.store.apply(event(m))
    return ms


def test_a_gang_that_does_not_fit_keeps_the_least_busy_nodes_from_smaller_pods(ext) -> None:
    # Free GPUs: a 3, b 2, c 1 = 6 < 2 members x 4. The gang waits for the fewest busy GPUs
    # on a (1 busy) and b (2 busy): 4 GPUs kept on each (the whole node); c stays open.
    _cluster(ext, {"a": 1, "b": 2, "c": 3})
    ms = _waiting_gang(ext)
    r = ext.filter(ms[0], NODES)
    assert r.gang_outcome == "failed" and r.passed == []
    assert "nodes kept for it while they drain: a, b" in {**r.failed, **r.unresolvable}["a"]
    small = pod_json("s", {"nvidia.com/gpu": 1})
    ext.store.apply(event(small))
    got = ext.filter(small, NODES)
    assert got.passed == ["c"]
    assert got.failed["a"] == f"node kept for gang {GANG} while it drains (4 GPUs, priority 0)"
    assert "b" in got.failed
    # A pod of higher priority is not kept out (it would preempt the gang anyway); c's last
    # GPU is held for s now (c was s's only node, so its filter reserved it).
    urgent = pod_json("u", {"nvidia.com/gpu": 1}, priority=10)
    ext.store.apply(event(urgent))
    assert sorted(ext.filter(urgent, NODES).passed) == ["a", "b"]


def test_once_the_kept_nodes_drain_the_gang_starts_there_and_the_keep_ends(ext, clock) -> None:
    busy = _cluster(ext, {"a": 1, "b": 2, "c": 3})
    ms = _waiting_gang(ext)
    assert ext.filter(ms[0], NODES).gang_outcome == "failed"
    for n in ("a", "b"):
        ext.store.apply(event(busy[n], "DELETED"))
    small = pod_json("s", {"nvidia.com/gpu": 1})
    ext.store.apply(event(small))
    # Drained: the gang fits, so it is planned before s (`earlier_first`; the deletions
    # dropped its failed record) and holds a and b: s passes c only, no one slips in.
    assert ext.filter(small, NODES).passed == ["c"]
    assert ext.gangs.keep is None
    clock.t += FAILED_RETRY_S + 1
    r = ext.filter(ms[1], NODES)
    assert r.gang_outcome == "steered" and sorted(r.passed) == ["a", "b"]
    for i, n in enumerate(sorted(r.passed)):
        assert ext.bind(f"w{i}", "default", f"uid-default-w{i}", n) == ""


def test_the_keep_follows_whichever_nodes_drain_first(ext, clock) -> None:
    busy = _cluster(ext, {"a": 1, "b": 2, "c": 3})
    ms = _waiting_gang(ext)
    ext.filter(ms[0], NODES)
    assert ext.gangs.keep is not None and dict(ext.gangs.keep.nodes) == {"a": 4, "b": 4}
    ext.store.apply(event(busy["c"], "DELETED"))  # c drains first: c (0 used) and a (1)
    clock.t += FAILED_RETRY_S + 1
    assert ext.filter(ms[0], NODES).gang_outcome == "failed"  # c 4 + a 3 free < 8
    assert ext.gangs.keep is not None and dict(ext.gangs.keep.nodes) == {"a": 4, "c": 4}
    small = pod_json("s", {"nvidia.com/gpu": 1})
    ext.store.apply(event(small))
    assert ext.filter(small, NODES).passed == ["b"]


def test_the_keep_ends_when_the_gang_is_deleted(ext) -> None:
    _cluster(ext, {"a": 1, "b": 2, "c": 3})
    ms = _waiting_gang(ext)
    ext.filter(ms[0], NODES)
    for m in ms:
        ext.store.apply(event(m, "DELETED"))
    small = pod_json("s", {"nvidia.com/gpu": 1})
    ext.store.apply(event(small))
    assert sorted(ext.filter(small, NODES).passed) == NODES
    assert ext.gangs.keep is None


def test_the_keep_lapses_when_the_gang_stops_retrying(ext, clock) -> None:
    _cluster(ext, {"a": 1, "b": 2, "c": 3})
    ext.filter(_waiting_gang(ext)[0], NODES)
    small = pod_json("s", {"nvidia.com/gpu": 1})
    ext.store.apply(event(small))
    clock.t += ext.timing.gang_ttl_s + 1
    assert sorted(ext.filter(small, NODES).passed) == NODES


def test_another_gang_plans_outside_kept_nodes_unless_it_outranks_the_keeper(ext) -> None:
    # Free: a 3, b 2, c 2. The waiting gang keeps a and b (least busy). A second gang of
    # 2 x 2 GPUs would fit on a + b, but only c (2 free) is open to it: it fails, and the keep
    # stays with the first gang (same priority). At priority 5 it plans on a and b.
    _cluster(ext, {"a": 1, "b": 2, "c": 2})
    ext.filter(_waiting_gang(ext)[0], NODES)
    assert ext.gangs.keep is not None and dict(ext.gangs.keep.nodes) == {"a": 4, "b": 4}
    other = [_gang(f"o{i}", 2, group="other") for i in range(2)]
    for m in other:
        ext.store.apply(event(m))
    assert ext.filter(other[0], NODES).gang_outcome == "failed"
    assert ext.gangs.keep.gang == GANG
    high = [_gang(f"h{i}", 2, group="high", priority=5) for i in range(2)]
    for m in high:
        ext.store.apply(event(m))
    r = ext.filter(high[0], NODES)
    assert r.gang_outcome == "planned" and set(r.passed) <= {"a", "b", "c"} and r.passed


def test_a_kept_node_takes_pods_that_leave_its_budget_free(ext) -> None:
    # a: 6 idle GPUs; b: 8 GPUs, 7 busy. A gang of 2 x 4 does not fit (a hosts one member,
    # b has 1 free). Kept: 4 GPUs of a (0 busy to wait for) and 4 of b (3 busy): a keeps
    # 2 GPUs beyond its budget, b none. A 1-GPU pod may go on a (6 - 1 = 5 >= 4 stay free),
    # a 3-GPU pod may not (6 - 3 = 3 < 4); nothing goes on b (1 free < 4).
    ext.store.apply(event(node_json("a", [gpu_json(i) for i in range(6)])))
    ext.store.apply(event(node_json("b", [gpu_json(i) for i in range(8)])))
    ext.store.apply(event(_busy("xb", "b", 7)))
    ms = _waiting_gang(ext)
    assert ext.filter(ms[0], ["a", "b"]).gang_outcome == "failed"
    assert ext.gangs.keep is not None and dict(ext.gangs.keep.nodes) == {"a": 4, "b": 4}
    one = pod_json("one", {"nvidia.com/gpu": 1})
    three = pod_json("three", {"nvidia.com/gpu": 3})
    for p in (one, three):
        ext.store.apply(event(p))
    got = ext.filter(one, ["a", "b"])
    assert got.passed == ["a"] and "kept for gang" in got.failed["b"]
    got = ext.filter(three, ["a", "b"])
    assert got.passed == [] and "(4 GPUs, priority 0)" in got.failed["a"]
