"""The fleet index's full build in `ClusterState.fleet` consumes one capacity view at a time
and memoises none of them: the index equals one built from the list of every view, and a view
asked for afterwards equals the one the index was built from."""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import given, settings

from scheduler.policy.capacity import NodeCapacity
from scheduler.policy.fleet_index import FleetIndex
from scheduler.policy.model import ClusterState
from tests.scheduler.policy.test_batch import clusters


def _views(state: ClusterState) -> list[NodeCapacity]:
    return [NodeCapacity.build(state.nodes[n], state.allocations_on(n)) for n in state.nodes]


def _same(a: object, b: object) -> bool:
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        nan = a.dtype.kind == "f"
        return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=nan)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


@settings(max_examples=100, deadline=None)
@given(clusters())
def test_streamed_build_equals_list_build(state: ClusterState) -> None:
    streamed = state.fleet()
    assert state._capacity == {}  # nothing memoised by the build
    listed = FleetIndex.build(_views(state))
    for f in dataclasses.fields(FleetIndex):
        assert _same(getattr(streamed, f.name), getattr(listed, f.name)), f.name
    assert [state.capacity(n) for n in state.nodes] == _views(state)


def test_forget_drops_only_stale_memos_and_they_are_computed_again() -> None:
    state = ClusterState({})
    idx = state.fleet()
    calls: list[str] = []

    def compute(name: str):  # type: ignore[no-untyped-def]
        def run(rows):  # type: ignore[no-untyped-def]
            calls.append(name)
            return np.zeros(len(rows))
        return run

    idx.per_row(("mix", 1), compute("old"))
    idx.per_row(("own",), compute("own"))
    idx.forget(lambda k: isinstance(k, tuple) and k[:1] == ("mix",) and k != ("mix", 2))
    assert set(idx.row_memo) == {("own",)}
    idx.per_row(("own",), compute("own"))  # kept: not computed again
    idx.per_row(("mix", 1), compute("old"))  # forgotten: computed again
    assert calls == ["old", "own", "old"]
