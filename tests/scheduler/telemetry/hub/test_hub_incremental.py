"""The hub notes placements from the real store without walking every allocation per request:
an unchanged snapshot hands back the same allocations mapping, and only a change is diffed."""

from __future__ import annotations

import dataclasses
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from scheduler.state.store import ClusterStore
from scheduler.telemetry.hub import TelemetryHub
from scheduler.telemetry.hub.settings import TelemetrySettings
from tests.builders import gpu_json, node_json
from tests.scheduler.policy.telemetry_builders import held

NOW = 1_800_000_000.0


def test_store_placements_are_noted_once_and_forgotten_on_release() -> None:
    store = ClusterStore()
    store.replace([node_json("a", [gpu_json(0), gpu_json(1)])])
    hub = TelemetryHub([], TelemetrySettings(lag_s=90.0, recent_ttl_s=300.0))
    first = store.snapshot(NOW)
    assert store.snapshot(NOW + 1).allocations is first.allocations  # the premise: same mapping
    hub.overlay(first)  # first call: what exists is already in the metrics
    hub.overlay(store.snapshot(NOW + 1))
    assert len(hub.recent) == 0
    alloc = dataclasses.replace(held("x", "a", 1, milli=500), expires_at=NOW + 30)
    with store.lock:
        store.ledger.reserve("x", alloc)
    out = hub.overlay(store.snapshot(NOW + 2))
    assert len(hub.recent) == 1
    load = out.nodes["a"].gpus[1].load  # annotation's 10 % + half a GPU placed just now
    assert load is not None and load.utilization_pct == 60.0
    version = hub.recent.version
    hub.overlay(store.snapshot(NOW + 3))  # unchanged: not recorded again
    assert hub.recent.version == version
    with store.lock:
        store.ledger.release("x")
    hub.overlay(store.snapshot(NOW + 4))
    assert len(hub.recent) == 0


@given(
    st.lists(
        st.one_of(st.none(), st.frozensets(st.sampled_from(["p", "q", "r", "s"]))),
        min_size=1,
        max_size=12,
    )
)
def test_identity_shortcut_matches_a_full_diff(steps: list[frozenset[str] | None]) -> None:
    """Property: fed as the store feeds it (a new mapping on change, the same object when
    unchanged: `None` here), the hub holds exactly the placements a diff on every call would:
    pods that appeared after the first call and are still there."""
    from scheduler.policy.model import ClusterState

    hub = TelemetryHub([], TelemetrySettings(lag_s=90.0, recent_ttl_s=300.0))
    allocs: dict[str, Any] = {}
    model: set[str] = set()
    for k, step in enumerate(steps):
        if step is not None or k == 0:
            uids = step or frozenset()
            new = {u: held(u, "a", ord(u) % 2, milli=250) for u in sorted(uids)}
            if k > 0:
                model = (model & set(new)) | (set(new) - set(allocs))
            allocs = new  # a fresh object, as the store hands out on a change
        state = ClusterState(nodes={}, allocations=allocs, now=NOW + k)
        hub.overlay(state)
        assert len(hub.recent) == len(model)
