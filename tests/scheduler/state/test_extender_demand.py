"""The demand mix the default profile scores against comes from the pods the watch delivered.

A request body is not evidence that a pod exists (the verbs take no credentials by default), so
filter, prioritize and explain never add to the mix; a relist after a restart counts the
cluster's pods again (the extender seeds its log from the store).
"""

from __future__ import annotations

from scheduler.state.extender import Extender
from scheduler.state.store import ClusterStore
from tests.builders import event, gpu_json, node_json, pod_json
from tests.scheduler.state.conftest import RecordingBinder


def _cluster(ext: Extender) -> None:
    ext.store.apply(event(node_json("a", [gpu_json(i) for i in range(2)])))


def test_pods_in_requests_do_not_enter_the_mix(ext: Extender) -> None:
    _cluster(ext)
    for i in range(50):  # 50 phantom 2-GPU pods sent by anything that reaches the port
        phantom = pod_json(f"phantom{i}", {"nvidia.com/gpu": 2})
        ext.filter(phantom, ["a"])
        ext.prioritize(phantom, ["a"])
    assert ext.demand.mix().pods == 0 and ext.demand._pods == 0


def test_watched_pods_enter_the_mix_once(ext: Extender) -> None:
    _cluster(ext)
    p = pod_json("p", {"nvidia.com/gpu": 1})
    ext.store.apply(event(p))
    ext.store.apply(event(p, "MODIFIED"))  # the same pod again: counted once
    ext.filter(p, ["a"])
    ext.explain("default/p")
    assert ext.demand._pods == 1
    assert ext.demand.mix().pods == 1  # the first pod publishes a mix at once


def test_a_new_extender_counts_the_pods_already_in_the_store() -> None:
    # After a restart the relist fills the store before (or while) the extender starts.
    store = ClusterStore()
    store.apply(event(node_json("a", [gpu_json(0)])))
    for i in range(3):
        store.apply(event(pod_json(f"p{i}", {"nvidia.com/gpu": 1})))
    ext = Extender(store, RecordingBinder())
    assert ext.demand._pods == 3
    store.apply(event(pod_json("p3", {"nvidia.com/gpu": 1})))
    assert ext.demand._pods == 4
