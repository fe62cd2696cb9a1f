"""A pod record's two problems, kept apart (round 10): why Tessera would not have scheduled the
pod as it reads (`spec_problem`), and why its placement annotation was refused
(`placement_problem`). Over the real `ClusterStore` and `Extender`."""

from __future__ import annotations

import json

from scheduler.state.extender import Extender
from scheduler.state.store import ClusterStore
from tests.builders import gpu_json, node_json, pod_json

BAD_QOS = {"tessera.io/qos": "bogus"}


def forged_uuid(uuid: str) -> dict[str, str]:
    doc = {"version": 1, "node": "n1", "gpus": [{"index": 0, "uuid": uuid}]}
    return {"tessera.io/placement": json.dumps(doc)}


def store_with_n1() -> ClusterStore:
    store = ClusterStore()
    store.upsert_node(node_json("n1", [gpu_json(0), gpu_json(1)]))
    return store


def test_both_problems_are_kept_apart_and_shown_by_explain() -> None:
    store = store_with_n1()
    pod = pod_json("p", {"nvidia.com/gpu": "1"}, node="n1", phase="Running",
                   annotations={**BAD_QOS, **forged_uuid("GPU-not-this-one")})  # fmt: skip
    store.upsert_pod(pod)
    rec = store.pod("default/p")
    assert rec is not None
    assert "tessera.io/qos" in rec.spec_problem and "placement" not in rec.spec_problem
    assert "UUID" in rec.placement_problem and "qos" not in rec.placement_problem
    problems = Extender(store, clock=lambda: 0.0).explain("default/p")["problems"]
    assert problems == {"spec": rec.spec_problem, "placement": rec.placement_problem}


def test_a_rejected_placement_is_counted_once_whatever_its_text() -> None:
    """The store re-folds a pod on every MODIFIED event and counts a rejection only when it
    is new. Joined into one string with ' | ', the old placement problem was found again by
    splitting on '| ': a forged UUID containing '| ' never matched, so every event of the
    same pod counted again (tessera_rejected_annotations_total inflated at will)."""
    store = store_with_n1()
    pod = pod_json("p", {"nvidia.com/gpu": "1"}, node="n1", phase="Running",
                   annotations=forged_uuid("GPU-a| b"))  # fmt: skip
    for _ in range(3):
        store.upsert_pod(pod)
    assert store.rejected_annotations == 1


def test_a_node_change_keeps_the_spec_problem_of_the_pods_on_it() -> None:
    """A node's GPU inventory change re-folds the pods on it; the re-fold dropped the spec
    problem (why a bound pod reads other than Tessera would schedule it) from the record."""
    store = store_with_n1()
    store.upsert_pod(pod_json("p", {"nvidia.com/gpu": "1"}, node="n1", phase="Running",
                              annotations=BAD_QOS))  # fmt: skip
    assert "tessera.io/qos" in store.pod("default/p").spec_problem
    store.upsert_node(node_json("n1", [gpu_json(0), gpu_json(1), gpu_json(2)]))  # a GPU added
    assert "tessera.io/qos" in store.pod("default/p").spec_problem
