"""A failed gang plan does not outlive a change in capacity (`scheduler.state.store`).

A gang that cannot be placed gets a failed record that stands `FAILED_RETRY_S`, so members
retried meanwhile read it instead of re-planning (a retry storm costs one plan). Measured on
the real control plane (benchmarks/RESULTS.md, Digital twin, round 4): kube-scheduler retried
a gang 1 ms after the pod that freed its room was deleted, before this watch had delivered the
deletion; the plan failed, and every later retry read the cached failure for the whole 5 s.
Now the store drops every failed record when a pod that held GPUs leaves or a node change may
add room; events that add no room keep it.

The cluster in every row: node a (4 GPUs) fully used by running pod xa, node b (4 GPUs) free,
node c (no GPUs, cordoned). The gang: 2 members x 4 GPUs = 8 > 4 free, so its first plan fails.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

import scheduler.state.gangs as gangs_mod
from scheduler.state.gangs import FAILED_RETRY_S
from tests.builders import event, gang_member_json, gpu_json, node_json, pod_json

GANG = "default/train"
NODES = ["a", "b", "c"]


def _member(name: str) -> dict:
    return gang_member_json(name, {"nvidia.com/gpu": 4}, "train", 2)


def _busy(phase: str = "Running") -> dict:
    return pod_json("xa", {"nvidia.com/gpu": 4}, node="a", phase=phase)


def _node(name: str, gpus: int, *, cordoned: bool = False, updated: str | None = None,
          labels: dict[str, str] | None = None) -> dict:  # fmt: skip
    obj = node_json(name, [gpu_json(i) for i in range(gpus)], labels=labels)
    if cordoned:
        obj["spec"]["unschedulable"] = True
    if updated is not None:
        doc = json.loads(obj["metadata"]["annotations"]["tessera.io/gpus"])
        doc["updated"] = updated
        obj["metadata"]["annotations"]["tessera.io/gpus"] = json.dumps(doc)
    return obj


def _failed_gang(ext) -> list[dict]:
    ext.store.apply(event(_node("a", 4)))
    ext.store.apply(event(_node("b", 4)))
    ext.store.apply(event(_node("c", 0, cordoned=True)))
    ext.store.apply(event(_busy()))
    ms = [_member(f"w{i}") for i in range(2)]
    for m in ms:
        ext.store.apply(event(m))
    assert ext.filter(ms[0], NODES).gang_outcome == "failed"  # a 0 + b 4 free < 2 x 4
    return ms


def _stranger() -> dict:
    return pod_json("s", {"nvidia.com/gpu": 1})


# (what happens, the watch events it delivers, whether the failed record is dropped, and the
# gang's outcome at the next member's retry at the same instant: the row's arithmetic).
ROWS: list[tuple[str, Callable[[], list[dict[str, Any]]], bool, str]] = [
    # xa's 4 GPUs come back: a 4 + b 4 = 8 = 2 x 4.
    ("the busy pod is deleted", lambda: [event(_busy(), "DELETED")], True, "planned"),
    ("the busy pod Succeeded", lambda: [event(_busy("Succeeded"), "MODIFIED")], True, "planned"),
    ("the busy pod Failed", lambda: [event(_busy("Failed"), "MODIFIED")], True, "planned"),
    # A new 4-GPU node d: b 4 + d 4 = 8.
    ("a node arrives", lambda: [event(_node("d", 4))], True, "planned"),
    # b grows to 8 GPUs: both members on b.
    ("a node gains GPUs", lambda: [event(_node("b", 8), "MODIFIED")], True, "planned"),
    # c has no GPUs: still a 0 + b 4 + c 0 = 4 < 8, but a selector might now match / kube-
    # scheduler might now pass it, so the gang re-plans (and fails again on a fresh plan).
    ("a node is uncordoned", lambda: [event(_node("c", 0), "MODIFIED")], True, "failed"),
    ("a node's labels change",
     lambda: [event(_node("c", 0, cordoned=True, labels={"pool": "x"}), "MODIFIED")],
     True, "failed"),  # fmt: skip
    # Events that free nothing: the cached failure stands (no re-plan).
    ("the busy pod is updated, still Running", lambda: [event(_busy(), "MODIFIED")], False,
     "failed"),
    ("a node is re-sent unchanged", lambda: [event(_node("b", 4), "MODIFIED")], False, "failed"),
    ("a node's GPU annotation heartbeat",
     lambda: [event(_node("b", 4, updated="2026-11-26T18:05:00Z"), "MODIFIED")], False,
     "failed"),  # fmt: skip
    ("a node loses GPUs", lambda: [event(_node("b", 2), "MODIFIED")], False, "failed"),
    ("a node is cordoned", lambda: [event(_node("b", 4, cordoned=True), "MODIFIED")], False,
     "failed"),
    ("a pending pod arrives", lambda: [event(_stranger())], False, "failed"),
    # s never held anything: deleting it frees no room.
    ("a pending pod that held nothing is deleted",
     lambda: [event(_stranger()), event(_stranger(), "DELETED")], False, "failed"),  # fmt: skip
]


@pytest.mark.parametrize(("what", "events", "dropped", "outcome"), ROWS,
                         ids=[r[0] for r in ROWS])  # fmt: skip
def test_a_failed_plan_is_dropped_exactly_when_capacity_may_come_back(
    ext, clock, monkeypatch, what, events, dropped, outcome
) -> None:
    ms = _failed_gang(ext)
    for e in events():
        ext.store.apply(e)
    assert (ext.store.ledger.gang(GANG, clock.t) is None) is dropped, what
    plans: list[str] = []
    real = gangs_mod.plan_members
    monkeypatch.setattr(gangs_mod, "plan_members",
                        lambda *a, **k: plans.append("x") or real(*a, **k))  # fmt: skip
    clock.t += 0.001  # the next retry, well inside FAILED_RETRY_S
    assert ext.filter(ms[1], NODES + ["d"]).gang_outcome == outcome, what
    assert len(plans) == (1 if dropped else 0), what  # a held failure is read, not re-planned


def test_a_pod_that_held_a_reservation_frees_room_when_deleted(ext, clock) -> None:
    # s reserves 1 GPU on b at its filter (its only fitting node); a gang of 2 x 2 then sees
    # b 3 free + a 0 = 3 < 4 and fails; deleting pending s releases its hold: 4 = 2 x 2.
    ext.store.apply(event(_node("a", 4)))
    ext.store.apply(event(_node("b", 4)))
    ext.store.apply(event(_busy()))
    s = _stranger()
    ext.store.apply(event(s))
    assert ext.filter(s, ["a", "b"]).passed == ["b"]
    ms = [gang_member_json(f"w{i}", {"nvidia.com/gpu": 2}, "train", 2) for i in range(2)]
    for m in ms:
        ext.store.apply(event(m))
    assert ext.filter(ms[0], ["a", "b"]).gang_outcome == "failed"
    ext.store.apply(event(s, "DELETED"))
    assert ext.filter(ms[1], ["a", "b"]).gang_outcome == "planned"


def test_a_retry_storm_without_events_plans_once_per_window(ext, clock, monkeypatch) -> None:
    ms = _failed_gang(ext)
    plans: list[str] = []
    real = gangs_mod.plan_members
    monkeypatch.setattr(gangs_mod, "plan_members",
                        lambda *a, **k: plans.append("x") or real(*a, **k))  # fmt: skip
    for i in range(100):  # 100 retries over 4.95 s: all read the cached failure
        clock.t += 0.0495
        assert ext.filter(ms[i % 2], NODES).gang_outcome == "failed"
    assert plans == []
    clock.t += FAILED_RETRY_S  # the window lapsed: one fresh plan
    assert ext.filter(ms[0], NODES).gang_outcome == "failed"
    assert len(plans) == 1


def test_a_relist_drops_failed_plans(ext, clock) -> None:
    ms = _failed_gang(ext)
    objs = [_node("a", 4), _node("b", 4), _node("c", 0, cordoned=True), *map(copy.deepcopy, ms)]
    ext.store.replace(objs)  # xa is gone from the relist
    assert ext.store.ledger.gang(GANG, clock.t) is None
    assert ext.filter(ms[1], NODES).gang_outcome == "planned"
