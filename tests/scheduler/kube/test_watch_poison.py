"""Issue 11, finding 1: no object can blind the Pod watch, and a blind watch is visible.

The source is the FAKE `RecordedSource` of test_watch.py (recorded list/watch answers); the
store is the real `ClusterStore`. The real apiserver form is tests/e2e/test_faults.py.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import Any

from scheduler.kube.watch import NODES, PODS, Informer, Resource, WatchGroup
from scheduler.policy.model import UNKNOWN_INDEX
from scheduler.state.store import ClusterStore
from tests.builders import gpu_json, node_json, pod_json
from tests.scheduler.kube.test_watch import RecordedSource, with_rv

DEEP = "[" * 5000 + "]" * 5000  # the reported poison: 5,000 nested arrays


def poison_pod() -> dict[str, Any]:
    return pod_json(
        "poison",
        {"nvidia.com/gpu": "1"},
        node="n1",
        phase="Running",
        annotations={"tessera.io/placement": DEEP},
    )


def run_until(inf: Informer, done: threading.Event, timeout_s: float = 30) -> threading.Thread:
    t = threading.Thread(target=inf.run, daemon=True)
    t.start()
    done.wait(timeout_s)
    return t


class Signal:
    """Wraps a sink: sets `seen` once the named pod was folded (whatever the outcome)."""

    def __init__(self, sink: Any, name: str) -> None:
        self.sink, self.name, self.seen = sink, name, threading.Event()

    def apply(self, event: Mapping[str, Any]) -> None:
        try:
            self.sink.apply(event)
        finally:
            if event["object"].get("metadata", {}).get("name") == self.name:
                self.seen.set()


def test_deep_placement_annotation_does_not_stop_the_pod_watch() -> None:
    store, src = ClusterStore(), RecordedSource()
    store.upsert_node(node_json("n1", [gpu_json(0), gpu_json(1)]))
    after = pod_json("after", {"nvidia.com/gpu": "1"})
    src.lists.append(([], "1"))
    src.watches.append(
        [
            {"type": "ADDED", "object": with_rv(poison_pod(), "2")},
            {"type": "ADDED", "object": with_rv(after, "3")},
        ]
    )
    sink = Signal(store, "after")
    inf = Informer(PODS, src, sink, backoff_initial_s=0.01)
    t = run_until(inf, sink.seen)
    try:
        assert store.pod("default/after") is not None  # the watch went on past the poison
        rec = store.pod("default/poison")
        assert rec is not None and "nested deeper than 16" in rec.problem
        # The annotation is ignored and counted; the pod is charged by its request (1 GPU).
        assert rec.allocation is not None
        assert [g.index for g in rec.allocation.placement.gpus] == [UNKNOWN_INDEX]
        assert store.rejected_annotations == 1
        assert t.is_alive()
    finally:
        inf.stop.set()
        t.join(5)


class Exploding:
    """FAKE sink: raises a non-ValueError (as any bug would) for one object, folds the rest."""

    def __init__(self, store: ClusterStore, bad: str) -> None:
        self.store, self.bad = store, bad

    def apply(self, event: Mapping[str, Any]) -> None:
        if event["object"]["metadata"]["name"] == self.bad:
            raise RecursionError("maximum recursion depth exceeded")
        self.store.apply(event)


def test_any_exception_is_counted_and_the_object_skipped() -> None:
    from scheduler.kube.rest import UNDECODABLE

    store, src = ClusterStore(), RecordedSource()
    src.lists.append(([], "1"))
    good = pod_json("good", {"nvidia.com/gpu": "1"})
    src.watches.append(
        [
            {"type": "ADDED", "object": with_rv(pod_json("bad"), "2")},
            {"type": UNDECODABLE, "object": {}, "error": "nested deeper than 64 levels"},
            {"type": "ADDED", "object": with_rv(good, "4")},
        ]
    )
    sink = Signal(Exploding(store, "bad"), "good")
    inf = Informer(PODS, src, sink, backoff_initial_s=0.01)
    t = run_until(inf, sink.seen)
    try:
        assert store.pod("default/good") is not None and store.pod("default/bad") is None
        assert inf.errors == 2  # the exploding object and the undecodable line
        assert inf.resource_version == "4"
        assert t.is_alive()
    finally:
        inf.stop.set()
        t.join(5)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Silent:
    """FAKE source: lists nothing, then a watch that never delivers until stopped."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop

    def list(self, resource: Resource) -> tuple[list[dict[str, Any]], str]:
        return [], "1"

    def watch(self, resource: Resource, rv: str, timeout_s: int) -> Iterator[dict[str, Any]]:
        self.stop.wait()
        return iter(())


def test_readiness_turns_false_when_a_watch_stops_making_progress() -> None:
    clock, stop = Clock(), threading.Event()
    store = ClusterStore()
    infs = [
        Informer(r, Silent(stop), store, watch_timeout_s=60, clock=clock) for r in (NODES, PODS)
    ]
    group = WatchGroup(infs)
    group.start()
    try:
        assert group.wait_synced(10)
        assert group.ready()  # synced, progress just now (the relist)
        clock.now += 60 + 60  # the server timeout plus the minute of grace: still fresh
        assert group.ready()
        clock.now += 1  # past it: the watch has been silent too long
        assert not group.ready()
        assert group.ages()["Pod"] == 121
    finally:
        stop.set()
        for inf in infs:
            inf.stop.set()
        group.stop()


def test_readiness_turns_false_when_a_watch_thread_dies() -> None:
    store, src = ClusterStore(), RecordedSource()
    src.lists.append(([], "1"))
    inf = Informer(PODS, src, store)
    group = WatchGroup([inf])
    inf.run = lambda: None  # type: ignore[method-assign]  # a thread that ends at once
    inf.synced.set()
    group.start()
    group.threads[0].join(5)
    assert not group.ready()


def test_bind_with_the_apiserver_unreachable_is_a_one_line_bind_error() -> None:
    """Seen in the apiserver-restart fault: a refused connection was a 500 with a traceback."""
    import pytest
    from kubernetes.client import ApiClient, Configuration

    from scheduler.kube.binder import KubeBinder
    from scheduler.kube.rest import KubeRest
    from scheduler.policy.model import GpuGrant, Placement
    from scheduler.state.extender import BindError
    from scheduler.state.placement import encode

    cfg = Configuration()
    cfg.host = "https://127.0.0.1:9"  # nothing listens on the discard port
    cfg.retries = 0
    binder = KubeBinder(KubeRest(ApiClient(cfg), request_timeout_s=2), encode, BindError)
    with pytest.raises(BindError, match=r"^binding pod default/p to n1: MaxRetryError"):
        binder.bind("default", "p", "u", "n1", Placement("n1", (GpuGrant(0),)))
