"""The hub's overlay reuses the previous snapshot's memos (capacity, fleet index) and the
store's per-node allocation source: property, after any sequence of holds and releases its
answers equal a fresh snapshot's built from nothing."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.policy.framework import run_filters
from scheduler.policy.model import ClusterState
from scheduler.policy.registry import default_profile
from scheduler.state.pods import parse_pod
from scheduler.state.store import ClusterStore
from scheduler.telemetry.hub import TelemetryHub
from scheduler.telemetry.hub.fold import _alloc_nodes, _changed_nodes
from scheduler.telemetry.hub.settings import TelemetrySettings
from tests.builders import gpu_json, node_json, pod_json
from tests.scheduler.policy.telemetry_builders import held

NOW = 1_800_000_000.0
PROFILE = default_profile()
ASKS = [parse_pod(pod_json("whole", {"nvidia.com/gpu": 1}), {}),
        parse_pod(pod_json("share", {"tessera.io/gpu-milli": "600"}), {})]  # fmt: skip
NODES = ("a", "b", "c")
# (pod, node, GPU index) held, or (pod, None, 0) released
steps = st.lists(
    st.tuples(st.sampled_from("pqrstu"), st.sampled_from((*NODES, None)), st.integers(0, 1)),
    min_size=1, max_size=14,
)  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(steps)
def test_overlay_answers_like_a_fresh_snapshot(changes: list[tuple[str, str | None, int]]) -> None:
    store = ClusterStore()
    store.replace([node_json(n, [gpu_json(0), gpu_json(1)]) for n in NODES])
    hub = TelemetryHub([], TelemetrySettings(lag_s=90.0, recent_ttl_s=300.0))
    hub.overlay(store.snapshot(NOW))
    for t, (pod, node, gpu) in enumerate(changes, start=1):
        with store.lock:
            store.ledger.release(pod)
            if node is not None:
                alloc = held(pod, node, gpu, milli=500)
                store.ledger.reserve(pod, dataclasses.replace(alloc, expires_at=NOW + 1e6))
        out = hub.overlay(store.snapshot(NOW + t))
        out.fleet()  # built from the previous overlay's index where a seed allows
        fresh = ClusterState(out.nodes, dict(out.allocations), out.gangs, out.now)
        for n in NODES:
            assert sorted(a.uid for a in out.allocations_on(n)) == sorted(
                a.uid for a in fresh.allocations_on(n)
            )
            assert out.capacity(n) == fresh.capacity(n)
        for req in ASKS:  # the batch filter reads the fleet index: same verdicts
            got, want = (run_filters(st_, req, list(NODES), PROFILE) for st_ in (out, fresh))
            assert (got.passed, got.failed) == (want.passed, want.failed)


def test_diffs_name_exactly_the_changed_entries() -> None:
    x, y = held("x", "a", 0), held("y", "b", 1)
    old = {"x": x, "y": y}
    # y replaced by an equal but new object on b, z added on c, x unchanged
    new = {"x": x, "y": dataclasses.replace(y), "z": held("z", "c", 0)}
    assert _alloc_nodes(old, new) == {"b", "c"}
    assert _alloc_nodes(new, {"x": x}) == {"b", "c"}  # removals count too
    nodes = {"a": object(), "b": object()}
    assert _changed_nodes(nodes, {"a": nodes["a"], "b": object(), "c": object()}) == {"b", "c"}
