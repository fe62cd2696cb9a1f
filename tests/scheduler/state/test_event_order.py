"""Watch events out of order, repeated or half-formed, straight into the `ClusterStore`: a pod's
pending version after its bound one, a MODIFIED after the DELETED, a DELETED without a UID,
one UID under two names, a node's older inventory after its newer one. Each left GPUs free
that a running pod held, or held GPUs for a pod that was gone."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.state.store import ClusterStore
from tests.builders import event, gpu_json, node_json, pod_json

TWO = {"nvidia.com/gpu": "2"}


def store() -> ClusterStore:
    s = ClusterStore()
    s.apply(event(node_json("a", [gpu_json(i) for i in range(2)])))
    return s


def versioned(obj: dict[str, Any], rv: int) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    out["metadata"]["resourceVersion"] = str(rv)
    return out


PENDING = versioned(pod_json("p", TWO), 5)
BOUND = versioned(pod_json("p", TWO, node="a", phase="Running"), 7)


def held_gpus(s: ClusterStore) -> int:
    return sum(len(a.placement.gpus) for a in s.snapshot(0).allocations.values())


def test_an_older_modified_does_not_unbind_a_running_pod() -> None:
    s = store()
    s.apply(event(PENDING))
    s.apply(event(BOUND, "MODIFIED"))
    s.apply(event(PENDING, "MODIFIED"))  # late: its version 5 is before 7
    assert held_gpus(s) == 2


def test_a_modified_after_the_deleted_does_not_bring_the_pod_back() -> None:
    s = store()
    s.apply(event(BOUND))
    s.apply(event(BOUND, "DELETED"))
    s.apply(event(versioned(BOUND, 9), "MODIFIED"))
    assert s.pod("default/p") is None and held_gpus(s) == 0


def test_an_added_always_folds_as_a_relist_sends_it() -> None:
    """A relist is the apiserver's word: older versions (etcd restored from a backup) and a
    UID deleted before both fold."""
    s = store()
    s.apply(event(BOUND))
    s.apply(event(BOUND, "DELETED"))
    s.apply(event(versioned(BOUND, 3)))
    assert s.pod("default/p") is not None and held_gpus(s) == 2
    s.apply(event(versioned(PENDING, 2), "MODIFIED"))  # older than the relisted 3: skipped
    assert held_gpus(s) == 2


def test_versions_that_are_not_revisions_fold_as_before() -> None:
    for rv in ("", "abc", "²", "9" * 40, None):
        s = store()
        s.apply(event(BOUND))
        late = copy.deepcopy(PENDING)
        late["metadata"]["resourceVersion"] = rv
        s.apply(event(late, "MODIFIED"))
        assert held_gpus(s) == 0, rv  # no order to compare: the event is taken as it comes


def test_a_deleted_without_a_uid_drops_the_pod_by_name() -> None:
    s = store()
    s.apply(event(BOUND))
    gone = copy.deepcopy(BOUND)
    del gone["metadata"]["uid"]
    s.apply(event(gone, "DELETED"))
    assert s.pod("default/p") is None and held_gpus(s) == 0


def test_one_uid_under_two_names_answers_to_the_last_name_only() -> None:
    s = store()
    s.apply(event(pod_json("p", {"nvidia.com/gpu": "1"}, node="a", phase="Running", uid="U")))
    q = pod_json("p", {"nvidia.com/gpu": "1"}, namespace="o", node="a", phase="Running", uid="U")
    s.apply(event(q))
    assert s.pod("default/p") is None
    assert s.pod("o/p") is not None and held_gpus(s) == 1
    del q["metadata"]["uid"]
    s.apply(event(q, "DELETED"))
    assert held_gpus(s) == 0


def test_an_older_node_modified_does_not_roll_back_its_gpus() -> None:
    s = ClusterStore()
    s.apply(event(versioned(node_json("a", [gpu_json(i) for i in range(8)]), 10)))
    s.apply(event(versioned(node_json("a", [gpu_json(i) for i in range(2)]), 12), "MODIFIED"))
    s.apply(event(versioned(node_json("a", [gpu_json(i) for i in range(8)]), 11), "MODIFIED"))
    assert len(s.snapshot(0).nodes["a"].gpus) == 2
    s.apply(event(node_json("a", []), "DELETED"))
    s.apply(event(versioned(node_json("a", [gpu_json(0)]), 13), "MODIFIED"))
    assert "a" not in s.snapshot(0).nodes
    s.apply(event(versioned(node_json("a", [gpu_json(0)]), 14)))  # re-registered: ADDED
    assert len(s.snapshot(0).nodes["a"].gpus) == 1


def history() -> list[tuple[str, dict[str, Any]]]:
    """One pod's life in order: created, bound, running, then deleted."""
    return [
        ("ADDED", versioned(pod_json("p", TWO), 1)),
        ("MODIFIED", versioned(pod_json("p", TWO, node="a"), 2)),
        ("MODIFIED", versioned(pod_json("p", TWO, node="a", phase="Running"), 3)),
        ("DELETED", versioned(pod_json("p", TWO, node="a", phase="Running"), 4)),
    ]


@given(st.integers(1, 4), st.lists(st.integers(0, 3), max_size=8))
@settings(max_examples=150, deadline=None)
def test_late_modified_events_never_change_what_the_store_holds(upto: int, late: list[int]) -> None:
    """The first `upto` events in order, then any earlier MODIFIED again: the store holds
    what it held after the in-order prefix."""
    events = history()[:upto]
    s, ref = store(), store()
    for kind, obj in events:
        s.apply(event(obj, kind))
        ref.apply(event(obj, kind))
    for i in late:
        if i < upto:
            s.apply(event(events[i][1], "MODIFIED"))
    assert held_gpus(s) == held_gpus(ref)
    assert (s.pod("default/p") is None) == (ref.pod("default/p") is None)
