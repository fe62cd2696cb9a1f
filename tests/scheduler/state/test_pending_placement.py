"""A pending pod carrying a `tessera.io/placement` annotation. Tessera writes the annotation in
the Binding itself, so the apiserver sets it together with `spec.nodeName`: a pod that has one
without the other was written by its author. It was charged all the same, so one pod that never
schedules (a nodeSelector nothing matches) held every GPU it named, for as long as it waited,
and a later genuine placement on those GPUs was refused as claiming GPUs already held."""

from __future__ import annotations

import json

from scheduler.state.extender import Extender, Timing
from scheduler.state.store import ClusterStore
from tests.builders import event, gpu_json, node_json, pod_json
from tests.scheduler.state.conftest import Clock, RecordingBinder

EIGHT = {"nvidia.com/gpu": "8"}


def placement(node: str, n: int) -> dict[str, str]:
    doc = {"version": 1, "node": node, "gpus": [{"index": i, "uuid": f"GPU-{i:04d}"}
                                                for i in range(n)]}  # fmt: skip
    return {"tessera.io/placement": json.dumps(doc)}


def cluster() -> Extender:
    ext = Extender(ClusterStore(), RecordingBinder(), clock=Clock(), timing=Timing(bind_wait_s=0))
    ext.store.apply(event(node_json("a", [gpu_json(i) for i in range(8)])))
    return ext


def test_a_pending_pod_cannot_hold_gpus_by_its_annotation() -> None:
    ext = cluster()
    squat = pod_json("squat", EIGHT, node_selector={"no": "such"}, annotations=placement("a", 8))
    ext.store.apply(event(squat))
    rec = ext.store.pod("default/squat")
    assert rec is not None and rec.allocation is None
    assert "not bound" in rec.placement_problem
    p = pod_json("p", {"nvidia.com/gpu": "1"})
    ext.store.apply(event(p))
    assert ext.filter(p, ["a"]).passed == ["a"]


def test_a_genuine_placement_is_not_refused_because_a_pending_pod_named_its_gpus() -> None:
    ext = cluster()
    ext.store.apply(event(pod_json("squat", EIGHT, annotations=placement("a", 8))))
    real = pod_json("real", EIGHT, node="a", phase="Running", annotations=placement("a", 8))
    ext.store.apply(event(real))
    rec = ext.store.pod("default/real")
    assert rec is not None and rec.placement_problem == ""
    assert [g.index for g in rec.allocation.placement.gpus] == list(range(8))


def test_the_annotation_counts_once_the_pod_is_bound() -> None:
    ext = cluster()
    ext.store.apply(event(pod_json("p", EIGHT, annotations=placement("a", 8))))
    bound = pod_json("p", EIGHT, node="a", phase="Running", annotations=placement("a", 8))
    ext.store.apply(event(bound, "MODIFIED"))
    rec = ext.store.pod("default/p")
    assert rec is not None and rec.placement_problem == "" and rec.allocation is not None
    assert [g.index for g in rec.allocation.placement.gpus] == list(range(8))
