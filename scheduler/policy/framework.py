"""The extension points, after kube-scheduler's scheduling framework.

A filter plugin answers "can this pod run on this node?" with a `Status`; a score plugin says how
good the node is as a float in [0, 1] (1 = best). Both are pure: they read the immutable
`ClusterState` and nothing else (no clock, no I/O). A `Profile` lists the plugins and score
weights; `run_scores` folds the weighted scores into the extender's integers 0..10.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from scheduler.policy.fit import choose
from scheduler.policy.model import ClusterState, Node, Placement, PodRequest
from scheduler.policy.status import SUCCESS, Status, error

MAX_SCORE = 10


@runtime_checkable
class FilterPlugin(Protocol):
    name: str

    def filter(self, state: ClusterState, pod: PodRequest, node: Node) -> Status: ...


@runtime_checkable
class ScorePlugin(Protocol):
    name: str

    def score(self, state: ClusterState, pod: PodRequest, node: Node) -> float:
        """A value in [0, 1]; higher is better. Called only on nodes that passed filters."""
        ...


@dataclass(frozen=True)
class Profile:
    """Which plugins run, in order, and each scorer's weight (weights need not sum to 1)."""

    filters: tuple[FilterPlugin, ...]
    scorers: tuple[tuple[ScorePlugin, float], ...] = ()
    name: str = "default"


def filter_node(
    state: ClusterState,
    pod: PodRequest,
    node_name: str,
    profile: Profile,
    *,
    all_reasons: bool = False,
) -> Status:
    """Run the profile's filters on one node; stop at the first failure unless `all_reasons`."""
    node = state.nodes.get(node_name)
    if node is None:
        return error(f"node {node_name!r} is not in the cluster state")
    result = SUCCESS
    for plugin in profile.filters:
        status = plugin.filter(state, pod, node)
        if not status.ok:
            tagged = Status(status.code, tuple(f"{plugin.name}: {r}" for r in status.reasons))
            result = result.merge(tagged)
            if not all_reasons:
                break
    return result


def run_filters(
    state: ClusterState,
    pod: PodRequest,
    node_names: Iterable[str],
    profile: Profile,
    *,
    all_reasons: bool = False,
) -> dict[str, Status]:
    """Status per node name, in input order."""
    return {
        name: filter_node(state, pod, name, profile, all_reasons=all_reasons) for name in node_names
    }


def score_breakdown(
    state: ClusterState, pod: PodRequest, node_name: str, profile: Profile
) -> dict[str, float]:
    """Each scorer's raw value in [0, 1] for one node (for explain)."""
    node = state.nodes[node_name]
    return {p.name: _clamp(p.score(state, pod, node)) for p, _ in profile.scorers}


def run_scores(
    state: ClusterState, pod: PodRequest, node_names: Iterable[str], profile: Profile
) -> dict[str, int]:
    """Integer score 0..10 per node: the weighted mean of the scorers, scaled and rounded."""
    total_weight = sum(w for _, w in profile.scorers if w > 0)
    out: dict[str, int] = {}
    for name in node_names:
        node = state.nodes.get(name)
        if node is None or total_weight <= 0:
            out[name] = 0
            continue
        acc = 0.0
        for plugin, weight in profile.scorers:
            if weight > 0:
                acc += weight * _clamp(plugin.score(state, pod, node))
        out[name] = round(MAX_SCORE * acc / total_weight)
    return out


def choose_placement(state: ClusterState, pod: PodRequest, node: Node) -> Placement | None:
    """The exact GPUs (and MIG starts / milli shares) `pod` would get on `node`, or None.

    Deterministic: the same state and pod always give the same placement.
    """
    return choose(state.capacity(node.name), pod)


def _clamp(value: float) -> float:
    if value != value:  # NaN from a broken scorer counts as worst, not as a crash
        return 0.0
    return 0.0 if value < 0 else 1.0 if value > 1 else value
