"""Test helpers that name the two paths of `scheduler.policy.framework` apart: the batch path
(the plugins' `filter_rows` / `score_rows`) and the per-node path (`Profile(batch=False)`).
Production code never chooses; these helpers exist so tests can compare the two."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from scheduler.policy.framework import (
    CycleState,
    FilterResult,
    Profile,
    batch_scores,
    run_filters,
)
from scheduler.policy.model import ClusterState, PodRequest
from scheduler.policy.registry import default_profile

PER_NODE = replace(default_profile(), batch=False)


def applicable(state: ClusterState, pod: PodRequest, profile: Profile) -> bool:
    """Whether `run_filters` takes the batch path for this pod: every filter has a batch
    method and none declines the pod."""
    plugins = profile.batch_filters
    cycle = CycleState(state, pod, sorted(state.nodes))
    return plugins is not None and all(p.filter_rows(cycle) is not None for p in plugins)


def fast_filter(
    state: ClusterState, pod: PodRequest, names: Sequence[str], profile: Profile
) -> FilterResult:
    """`run_filters` on the batch path (asserting that it is taken)."""
    assert applicable(state, pod, profile)
    return run_filters(state, pod, names, profile)


def fast_scores_applicable(pod: PodRequest, profile: Profile) -> bool:
    plugins = profile.batch_scorers
    if plugins is None:
        return False
    cycle = CycleState(ClusterState({}), pod, [])
    return all(p.score_rows(cycle) is not None for p, _ in plugins)


def fast_scores(
    state: ClusterState, pod: PodRequest, names: Sequence[str], profile: Profile
) -> list[int]:
    got = batch_scores(state, pod, names, profile)
    assert got is not None
    return got.ints


def plugin_values(
    state: ClusterState, pod: PodRequest, names: Sequence[str], profile: Profile
) -> dict[str, np.ndarray]:
    """Each batch scorer's raw value per node, clipped to [0, 1]; NaN where the framework
    sends the row to the per-node path (unknown names, index `slow` rows, the scorer's NaN)."""
    plugins = profile.batch_scorers
    assert plugins is not None
    cycle = CycleState(state, pod, list(names))
    keep = cycle.known & ~cycle.index.slow[cycle.rows]
    out = {}
    for plugin, _ in plugins:
        values = plugin.score_rows(cycle)
        assert values is not None
        out[plugin.name] = np.where(keep, np.clip(values, 0.0, 1.0), np.nan)
    return out
