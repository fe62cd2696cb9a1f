"""Informer behaviour on recorded list/watch traffic, folded into the real `ClusterStore`.

The `RecordedSource` below is a FAKE apiserver for these unit tests only: it replays list
answers and watch streams in the shapes the apiserver sends (list items without `kind`, watch
events with `kind`, BOOKMARK and ERROR 410 events). A real apiserver is exercised in
`test_kube_real.py`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from scheduler.kube.rest import KubeApiError
from scheduler.kube.watch import NODES, PODGROUPS, PODS, Informer, Resource, WatchGroup
from scheduler.state.store import ClusterStore
from tests.builders import gpu_json, node_json, pod_json


def bare(obj: dict[str, Any]) -> dict[str, Any]:
    """A list item as the apiserver returns it: no kind/apiVersion."""
    return {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}


def with_rv(obj: dict[str, Any], rv: str) -> dict[str, Any]:
    out = dict(obj)
    out["metadata"] = {**obj["metadata"], "resourceVersion": rv}
    return out


class RecordedSource:
    def __init__(self) -> None:
        self.lists: list[tuple[list[dict[str, Any]], str] | Exception] = []
        self.watches: list[list[dict[str, Any]] | Exception] = []
        self.list_calls = 0
        self.watch_from: list[str] = []

    def list(self, resource: Resource) -> tuple[list[dict[str, Any]], str]:
        self.list_calls += 1
        answer = self.lists.pop(0)
        if isinstance(answer, Exception):
            raise answer
        items, rv = answer
        return [{**bare(i), "kind": resource.kind} for i in items], rv

    def watch(self, resource: Resource, resource_version: str, timeout_s: int) -> Iterator[Any]:
        self.watch_from.append(resource_version)
        if not self.watches:
            raise ConnectionResetError("recording exhausted")
        answer = self.watches.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return iter(answer)


N1 = node_json("n1", [gpu_json(0)])
N2 = node_json("n2", [gpu_json(0), gpu_json(1)])


def test_initial_list_then_watch_events_fold_into_store() -> None:
    store, src = ClusterStore(), RecordedSource()
    src.lists.append(([N1], "100"))
    p = pod_json("p", {"nvidia.com/gpu": "1"})
    src.watches.append(
        [
            {"type": "ADDED", "object": with_rv(N2, "101")},
            {
                "type": "BOOKMARK",
                "object": {"kind": "Node", "metadata": {"resourceVersion": "150"}},
            },  # noqa: E501
            {"type": "DELETED", "object": with_rv(N1, "151")},
        ]
    )
    inf = Informer(NODES, src, store)
    inf.relist()
    assert inf.synced.is_set() and set(store.snapshot(0).nodes) == {"n1"}
    inf.watch_once()
    assert set(store.snapshot(0).nodes) == {"n2"}
    assert inf.resource_version == "151"  # the bookmark moved it to 150, the delete to 151
    assert src.watch_from == ["100"]
    pods = Informer(PODS, src, store)
    src.lists.append(([p], "200"))
    pods.relist()
    assert store.pod("default/p") is not None
    assert set(store.snapshot(0).nodes) == {"n2"}  # a pod relist never clears nodes


def test_relist_after_410_deletes_what_vanished_meanwhile() -> None:
    store, src = ClusterStore(), RecordedSource()
    src.lists += [([N1, N2], "10"), ([N2], "50")]
    gone = {"type": "ERROR", "object": {"kind": "Status", "code": 410, "message": "too old"}}
    src.watches += [[gone], []]
    inf = Informer(NODES, src, store, backoff_initial_s=0.01)

    def stop_after_second_watch() -> None:
        while len(src.watch_from) < 2:
            threading.Event().wait(0.01)
        inf.stop.set()

    t = threading.Thread(target=stop_after_second_watch)
    t.start()
    inf.run()
    t.join()
    assert src.list_calls == 2 and inf.relists == 2
    assert set(store.snapshot(0).nodes) == {"n2"}  # n1 vanished while the watch was gone
    assert src.watch_from[:2] == ["10", "50"]  # then resumes from 50 until stopped


def test_errors_back_off_and_resume_from_last_version() -> None:
    store, src = ClusterStore(), RecordedSource()
    src.lists.append(([N1], "7"))
    src.watches += [
        KubeApiError(500, "etcd leader changed"),
        ConnectionResetError("peer reset"),
        TimeoutError("read timed out"),
        [{"type": "MODIFIED", "object": with_rv(N2, "9")}],
    ]
    inf = Informer(NODES, src, store, backoff_initial_s=0.01, backoff_max_s=0.02)
    waits: list[float] = []
    real_wait = inf.stop.wait

    def record_wait(t: float | None = None) -> bool:
        waits.append(float(t or 0))
        if len(src.watch_from) >= 5:
            inf.stop.set()
        return real_wait(0)

    inf.stop.wait = record_wait  # type: ignore[method-assign]
    inf.run()
    # Backoff doubles and is capped (0.01, 0.02, 0.02), and resets after the watch that
    # worked: 0.01 when the recording runs out.
    assert waits[:4] == [0.01, 0.02, 0.02, 0.01]
    assert src.watch_from[:4] == ["7", "7", "7", "7"] and src.list_calls == 1
    assert "n2" in store.snapshot(0).nodes


def test_malformed_object_is_skipped_not_fatal() -> None:
    store, src = ClusterStore(), RecordedSource()
    bad_pod = pod_json("bad", {"nvidia.com/gpu": "lots"})
    src.lists.append(([bad_pod, pod_json("ok", {"nvidia.com/gpu": "1"})], "3"))
    inf = Informer(PODS, src, store)
    inf.relist()
    assert store.pod("default/ok") is not None and store.pod("default/bad") is None


def test_absent_crd_counts_as_synced() -> None:
    store, src = ClusterStore(), RecordedSource()
    src.lists.append(KubeApiError(404, "the server could not find the requested resource"))
    inf = Informer(PODGROUPS, src, store)
    inf.run()  # returns: nothing to watch
    assert inf.absent and inf.synced.is_set()


def test_watch_group_ready_only_when_all_synced() -> None:
    store = ClusterStore()
    a, b = RecordedSource(), RecordedSource()
    a.lists.append(([N1], "1"))
    b.lists.append(([], "1"))
    group = WatchGroup(
        [
            Informer(NODES, a, store, backoff_initial_s=5),
            Informer(PODS, b, store, backoff_initial_s=5),
        ]
    )
    assert not group.ready()
    group.start()
    try:
        assert group.wait_synced(5) and group.ready()
    finally:
        group.stop()


@pytest.mark.parametrize("resource", [NODES, PODS, PODGROUPS])
def test_resources_are_the_real_collection_paths(resource: Resource) -> None:
    assert resource.path.startswith(("/api/v1/", "/apis/scheduling.x-k8s.io/"))
