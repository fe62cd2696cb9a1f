"""Extender requests that disagree with the cluster (round 9 adversarial pass): node names
twice, a filter whose Pod says other than the watched pod, a gang minMember of 10^18, a
PodGroup that is not an object. Over the real `ClusterStore` and `Extender`."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.policy.model import Placement
from scheduler.state.errors import StateError
from scheduler.state.extender import Extender
from scheduler.state.store import ClusterStore
from tests.builders import gang_member_json, gpu_json, node_json, pod_json


class CapturingBinder:
    """Stand-in for the Kubernetes binder: keeps each bind's placement, writes nothing."""

    def __init__(self) -> None:
        self.placements: dict[str, Placement] = {}

    def bind(self, namespace: str, name: str, uid: str, node: str, placement: Placement) -> None:
        self.placements[f"{namespace}/{name}"] = placement


def cluster(nodes: int = 2, gpus: int = 2) -> tuple[ClusterStore, Extender, CapturingBinder]:
    store = ClusterStore()
    for i in range(nodes):
        store.upsert_node(node_json(f"n{i}", [gpu_json(g) for g in range(gpus)]))
    binder = CapturingBinder()
    return store, Extender(store, binder), binder


def test_a_node_named_twice_is_decided_once() -> None:
    """Before: ["n0", "n0"] passed twice, so the one feasible node was not reserved."""
    _, ext, _ = cluster(nodes=1)
    r = ext.filter(pod_json("p", {"nvidia.com/gpu": "1"}), ["n0", "n0", "n0"])
    assert r.passed == ["n0"] and r.reserved is not None


def test_bind_after_a_filter_whose_pod_lied_binds_what_the_pod_asks() -> None:
    """The watched pod asks 2 GPUs; a filter request carrying the same UID said 1 and left a
    one-GPU hold. Before, /bind wrote that one-GPU placement for the two-GPU pod: the node's
    second GPU then looked free while the pod used it."""
    store, ext, binder = cluster(nodes=1)
    store.upsert_pod(pod_json("p", {"nvidia.com/gpu": "2"}))
    lie = ext.filter(pod_json("p", {"nvidia.com/gpu": "1"}), ["n0"])
    assert lie.reserved is not None and len(lie.reserved.gpus) == 1
    assert ext.bind("p", "default", "uid-default-p", "n0") == ""
    assert len(binder.placements["default/p"].gpus) == 2


@pytest.mark.parametrize("min_member", [10**18, 2**70])
def test_huge_min_member_waits_instead_of_exhausting_memory(min_member: int) -> None:
    """A PodGroup's minMember of 10^18 was a MemoryError (2^70: OverflowError) in every filter
    of the gang's pods: the planner pads the gang with copies of the pod."""
    store, ext, _ = cluster()
    store.apply({"type": "ADDED", "object": {"kind": "PodGroup", "metadata": {"name": "g"},
                                             "spec": {"minMember": min_member}}})  # fmt: skip
    pod = gang_member_json("m0", {"nvidia.com/gpu": "1"}, "g", 2)
    store.upsert_pod(pod)
    t0 = time.perf_counter()
    r = ext.filter(pod, ["n0", "n1"])
    assert r.passed == [] and r.error == "" and time.perf_counter() - t0 < 5.0


@pytest.mark.parametrize(
    "obj",
    [
        {"kind": "PodGroup", "metadata": [1]},
        {"kind": "PodGroup", "metadata": {"name": "g"}, "spec": "x"},
    ],
)
def test_podgroup_that_is_not_an_object_is_a_state_error(obj) -> None:
    store = ClusterStore()
    with pytest.raises(StateError, match="PodGroup metadata and spec must be objects"):
        store.apply({"type": "ADDED", "object": obj})


_MIN = st.one_of(st.integers(-(2**80), 2**80), st.floats(), st.text(max_size=5), st.none(),
                 st.booleans())  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(_MIN, _MIN)
def test_any_min_member_answers_and_never_overbooks(group_min, annotated_min) -> None:
    """Invariant: whatever a PodGroup's minMember and a pod's tessera.io/gang-min-member say,
    a gang member's filter answers (a decision or a one-line error) and the reservations it
    leaves never hold more whole GPUs than the 2 x 2 GPUs exist."""
    store, ext, _ = cluster()
    store.apply({"type": "ADDED", "object": {"kind": "PodGroup", "metadata": {"name": "g"},
                                             "spec": {"minMember": group_min}}})  # fmt: skip
    for i in range(3):
        pod = pod_json(f"m{i}", {"nvidia.com/gpu": "1"}, labels={"tessera.io/gang": "g"},
                       annotations={"tessera.io/gang-min-member": str(annotated_min)})  # fmt: skip
        r = ext.filter(pod, ["n0", "n1"])
        assert r.error == "" or "\n" not in r.error
    held = sum(len(a.placement.gpus) for a in store.snapshot(time.time()).allocations.values())
    assert held <= 4


@pytest.mark.parametrize("rv", ["\u00b2", "9" * 5000, "1" * 20, "-1", " 7"])
def test_request_node_with_an_unreadable_resource_version_is_not_folded(rv: str) -> None:
    """nodeCacheCapable: false. '\u00b2' passes isdigit() and raised in int(); 5,000 digits hit
    int()'s limit: both became a 400 naming neither. 20 digits is past etcd's int64 and would
    have outranked every later version the watch delivers."""
    store = ClusterStore()
    known = node_json("n0", [gpu_json(0)])
    known["metadata"]["resourceVersion"] = "5"
    store.upsert_node(known)
    forged = node_json("n0", [gpu_json(0), gpu_json(1)])
    forged["metadata"]["resourceVersion"] = rv
    assert store.fold_request_node(forged) is False
    assert len(store.snapshot(0).nodes["n0"].gpus) == 1
