"""Pods from the cluster that Tessera would refuse, forge or reuse (round 9 adversarial pass):
whatever a bound pod says, the GPUs it holds stay charged, and no GPU is counted for two pods.
Over the real `ClusterStore` and `Extender`."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.policy.model import UNKNOWN_INDEX
from scheduler.state.errors import PodParseError
from scheduler.state.extender import Extender
from scheduler.state.store import ClusterStore
from tests.builders import gpu_json, node_json, pod_json


def two_gpu_store() -> tuple[ClusterStore, Extender]:
    store = ClusterStore()
    store.upsert_node(node_json("n1", [gpu_json(0), gpu_json(1)]))
    return store, Extender(store)


def free_whole(ext: Extender) -> int:
    """Free whole GPUs on n1 as the filter sees them: the largest count that passes."""
    for n in (2, 1):
        if ext.filter(pod_json(f"probe{n}", {"nvidia.com/gpu": str(n)}), ["n1"]).passed:
            ext.store.ledger.release(f"uid-default-probe{n}")
            return n
    return 0


def placement(*gpus: dict[str, Any]) -> dict[str, str]:
    return {"tessera.io/placement": json.dumps({"version": 1, "node": "n1", "gpus": list(gpus)})}


# A bound pod Tessera would not have scheduled still holds its GPU (was: dropped, GPU free).
@pytest.mark.parametrize(
    ("requests", "annotations", "labels"),
    [
        ({"nvidia.com/gpu": "1"}, {"tessera.io/qos": "bogus"}, {}),
        ({"nvidia.com/gpu": "1"}, {"tessera.io/gang-min-member": "abc"}, {"tessera.io/gang": "g"}),
        ({"nvidia.com/gpu": "1", "nvidia.com/mig-1g.10gb": "1"}, {}, {}),  # two kinds: whole
        ({"tessera.io/gpu-milli": "1500"}, {}, {}),  # over one GPU: 2 whole GPUs, ceil(1.5)
        ({"nvidia.com/gpu": "1", "tessera.io/gpu-memory-mib": "100"}, {}, {}),  # memory alone
    ],
)
def test_bound_pod_tessera_would_refuse_is_still_charged(requests, annotations, labels) -> None:
    store, ext = two_gpu_store()
    pending = pod_json("p", requests, annotations=annotations, labels=labels)
    with pytest.raises(PodParseError):
        store.upsert_pod(pending)  # pending: refused, one line, nothing held
    assert store.pod("default/p") is None and free_whole(ext) == 2
    store.upsert_pod(pod_json("p", requests, annotations=annotations, labels=labels, node="n1",
                              phase="Running"))  # fmt: skip
    rec = store.pod("default/p")
    assert rec is not None and rec.allocation is not None and rec.problem
    held = len(rec.allocation.placement.gpus)
    assert free_whole(ext) == 2 - held and held >= 1


def test_a_known_pod_turned_unreadable_keeps_its_hold_until_it_ends() -> None:
    store, ext = two_gpu_store()
    store.upsert_pod(pod_json("p", {"nvidia.com/gpu": "1"}, node="n1", phase="Running"))
    bad = {"tessera.io/qos": "bogus"}
    store.upsert_pod(pod_json("p", {"nvidia.com/gpu": "1"}, node="n1", phase="Running",
                              annotations=bad))  # fmt: skip
    assert free_whole(ext) == 1
    store.upsert_pod(pod_json("p", {"nvidia.com/gpu": "1"}, node="n1", phase="Succeeded",
                              annotations=bad))  # fmt: skip
    assert free_whole(ext) == 2  # ended: its GPU is free (was: held for ever by the old record)


def test_same_name_new_uid_replaces_the_old_pod() -> None:
    """Deleted and created again while the watch was away: no DELETED for the old UID came."""
    store, ext = two_gpu_store()
    store.upsert_pod(pod_json("p", {"nvidia.com/gpu": "2"}, uid="old", node="n1", phase="Running"))
    assert free_whole(ext) == 0
    store.upsert_pod(pod_json("p", {"nvidia.com/gpu": "2"}, uid="new"))  # pending again
    assert [r.request.uid for r in store.pods()] == ["new"]
    assert free_whole(ext) == 2  # was 0: the old UID's record held both GPUs for ever
    store.delete_pod(pod_json("p", uid="old"))  # a late DELETED of the old UID
    assert store.pod("default/p") is not None and store.pod("default/p").request.uid == "new"


# A placement whose grants are not what the pod requests is not trusted: charged by requests.
@pytest.mark.parametrize(
    ("requests", "gpus", "held"),
    [
        ({"nvidia.com/gpu": "2"}, [{"index": 0}], 2),  # names 1 GPU of 2: was 1 held, 1 lost
        ({"nvidia.com/gpu": "1"}, [{"index": 0, "milli": 10}], 1),  # a share for a whole GPU
        ({"tessera.io/gpu-milli": "600"}, [{"index": 0, "milli": 100}], 1),  # 100 < 600
        ({"nvidia.com/gpu": "1"}, [{"index": 0, "profile": "1g.10gb", "start": 0}], 1),
    ],
)
def test_placement_unlike_the_request_is_charged_by_requests(requests, gpus, held) -> None:
    store, ext = two_gpu_store()
    store.upsert_pod(pod_json("p", requests, node="n1", phase="Running",
                              annotations=placement(*gpus)))  # fmt: skip
    rec = store.pod("default/p")
    assert rec is not None and "placement" in rec.problem and store.rejected_annotations == 1
    assert [g.index for g in rec.allocation.placement.gpus] == [UNKNOWN_INDEX] * held


def test_placement_claiming_a_gpu_another_pod_holds_is_charged_by_requests() -> None:
    """Two whole-GPU pods whose annotations both name GPU 0 of two: one of them really runs on
    GPU 1. Before, the second claim was dropped as overbooked and GPU 1 looked free."""
    store, ext = two_gpu_store()
    claim = placement({"index": 0, "uuid": "GPU-0000"})
    store.upsert_pod(pod_json("a", {"nvidia.com/gpu": "1"}, node="n1", phase="Running",
                              annotations=claim))  # fmt: skip
    store.upsert_pod(pod_json("b", {"nvidia.com/gpu": "1"}, node="n1", phase="Running",
                              annotations=claim))  # fmt: skip
    assert "already held" in store.pod("default/b").problem
    assert free_whole(ext) == 0  # 2 GPUs - 2 pods (was 1: a double-booking waiting)


_GRANT = st.fixed_dictionaries(
    {"index": st.integers(-1, 2)},
    optional={"uuid": st.sampled_from(["", "GPU-0000", "GPU-0001", "GPU-9"]),
              "milli": st.integers(1, 1000),
              "profile": st.sampled_from(["1g.10gb", "3g.40gb"]),
              "start": st.integers(0, 7)},
)  # fmt: skip
_POD = st.tuples(
    st.sampled_from([{"nvidia.com/gpu": "1"}, {"nvidia.com/gpu": "2"},
                     {"tessera.io/gpu-milli": "400"}, {"tessera.io/gpu-milli": "700"}]),
    st.one_of(st.none(), st.lists(_GRANT, max_size=3)),
    st.sampled_from(["Running", "Pending", "Succeeded"]),
)  # fmt: skip


def _demand_milli(requests: dict[str, str]) -> int:
    if "nvidia.com/gpu" in requests:
        return 1000 * int(requests["nvidia.com/gpu"])
    return int(requests["tessera.io/gpu-milli"])


@settings(max_examples=150, deadline=None)
@given(st.lists(_POD, max_size=5))
def test_no_gpu_is_double_booked_whatever_the_annotations_say(pods) -> None:
    """Invariant: after folding bound pods with any placement annotations (honest, forged,
    conflicting, malformed), a whole-GPU pod passes the filter of a 2-GPU node only when the
    bound pods' requests leave a whole GPU: sum of their milli <= 1000 (they cannot pack
    tighter than their total)."""
    store, ext = two_gpu_store()
    for i, (requests, grants, phase) in enumerate(pods):
        notes = placement(*grants) if grants is not None else {}
        store.upsert_pod(pod_json(f"b{i}", requests, node="n1", phase=phase, annotations=notes))
    held = sum(_demand_milli(r) for r, _, phase in pods if phase != "Succeeded")
    if held > 1000:
        assert free_whole(ext) == 0, held


def test_a_gang_name_longer_than_an_object_name_is_refused_naming_it() -> None:
    """A 100 KB tessera.io/gang annotation was taken as the gang's name, copied into every
    reply and metric label that names the gang."""
    store, _ = two_gpu_store()
    notes = {"tessera.io/gang": "g" * 100_000}
    with pytest.raises(PodParseError, match="tessera.io/gang is 100000 characters, at most 253"):
        store.upsert_pod(pod_json("p", {"nvidia.com/gpu": "1"}, annotations=notes))
    store.upsert_pod(pod_json("p", {"nvidia.com/gpu": "1"}, annotations=notes, node="n1",
                              phase="Running"))  # fmt: skip
    rec = store.pod("default/p")  # bound: charged, no gang, the reason kept
    assert rec.request.gang is None and "253" in rec.problem and rec.allocation is not None
