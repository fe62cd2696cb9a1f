"""Running a profile over many nodes: `run_scores` here, `run_filters` in `filtering`
(re-exported).

One framework, two speeds. When every plugin of the profile has a batch method
(`filter_rows` / `score_rows`, see `scheduler.policy.interfaces`) and none declines the pod,
the whole candidate list is answered from the fleet index at once; rows the index cannot
represent exactly (`FleetIndex.slow`) and rows a plugin marks `exact` go through the plugins
node by node. Otherwise every node goes through the plugins. Callers never choose: the answer is
the same either way (verdict codes and scores; failure reasons of batch-judged nodes are one
summary per plugin and code), only the time differs.

`run_scores` folds the weighted scores into the extender's integers 0..10.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

from packing.jit import kernel
from scheduler.policy.filtering import _groups, filter_cycle, filter_node, per_node, run_filters
from scheduler.policy.interfaces import (
    MAX_LEVEL,
    MAX_SCORE,
    BatchFilterPlugin,
    BatchScorePlugin,
    Bools,
    CycleState,
    FilterPlugin,
    Floats,
    Profile,
    Rows,
    RowVerdicts,
    ScorePlugin,
    TieBreakPlugin,
    choose_placement,
)
from scheduler.policy.model import ClusterState, PodRequest
from scheduler.policy.results import FilterResult, NodeScores

__all__ = [
    "MAX_SCORE",
    "BatchFilterPlugin",
    "BatchScorePlugin",
    "CycleState",
    "FilterPlugin",
    "FilterResult",
    "NodeScores",
    "Profile",
    "RowVerdicts",
    "ScorePlugin",
    "TieBreakPlugin",
    "batch_scores",
    "choose_placement",
    "filter_and_score",
    "filter_node",
    "run_filters",
    "run_scores",
    "score_breakdown",
]


def score_breakdown(
    state: ClusterState, pod: PodRequest, node_name: str, profile: Profile
) -> dict[str, float]:
    """Each scorer's raw value in [0, 1] for one node (for explain)."""
    node = state.nodes[node_name]
    cycle = CycleState(state, pod, [node_name])
    return {
        p.name: _clamp(p.score(state, pod, node, cycle) if takes else p.score(state, pod, node))
        for (p, _), takes in zip(profile.scorers, profile.scorer_takes_cycle, strict=True)
    }


def run_scores(
    state: ClusterState,
    pod: PodRequest,
    node_names: Iterable[str],
    profile: Profile,
    *,
    rank: bool = False,
) -> NodeScores:
    """Integer 0..10 per node: the weighted mean of the scorers, scaled and rounded (nodes not
    in the snapshot score 0); `levels` holds the same mean on a 0..100 scale. `rank`: the
    caller picks its node by `levels`, so the profile's tie-break orders the nodes sharing the
    top level (it costs time and changes nothing in the 0..10 integers, so callers that only
    read those skip it)."""
    names = node_names if isinstance(node_names, list) else list(node_names)
    return _scores(CycleState(state, pod, names), profile, rank, None)


def filter_and_score(
    state: ClusterState,
    pod: PodRequest,
    node_names: Iterable[str],
    profile: Profile,
    *,
    rank: bool = False,
) -> tuple[FilterResult, NodeScores | None]:
    """`run_filters`, then `run_scores` of the nodes that passed (None when none did): one
    scheduling cycle, as kube-scheduler's CycleState spans its filter and score phases. When
    every node passes, the scores run in the filters' `CycleState` and score the subset of
    one node per row state the filters formed (the same candidates: formed once)."""
    names = node_names if isinstance(node_names, list) else list(node_names)
    cycle = CycleState(state, pod, names)
    got = filter_cycle(cycle, profile)
    filtered, sub = (per_node(state, pod, names, profile), None) if got is None else got
    passed = filtered.passed
    if not passed:
        return filtered, None
    if len(passed) != len(names):  # (`passed` keeps the input order: equal length, same list)
        return filtered, run_scores(state, pod, passed, profile, rank=rank)
    return filtered, _scores(cycle, profile, rank, sub if profile.scores_by_state else None)


def _scores(
    cycle: CycleState, profile: Profile, rank: bool, scored: CycleState | None
) -> NodeScores:
    """`run_scores` over `cycle`'s candidates; `scored`: their subset of one row per distinct
    state, when the caller formed it (`_distinct`)."""
    names = cycle.names
    got = _batch_sums(cycle, profile, scored)
    if got is None:
        out = _scaled(names, _node_sums(cycle, names, profile), profile.total_weight)
    else:
        out = _scaled(names, got[0], profile.total_weight, got[1])
    if rank and profile.tie_break is not None:
        _break_tie(cycle, out, profile.tie_break)
    return out


def _break_tie(cycle: CycleState, scores: NodeScores, plugin: TieBreakPlugin) -> None:
    """Among the nodes at the top level, those the plugin costs lowest keep it; the others
    drop one level (`levels` only: the 0..10 integers are too coarse to carry the order)."""
    lv = scores.level_array  # (the array first: reading `levels` would make the list)
    if lv is None:
        if scores.levels is None:
            return
        lv = np.asarray(scores.levels, np.int64)
    if len(lv) < 2:
        return
    tied = _top_positions(lv)
    if len(tied) < 2:
        return
    if "_rows" in cycle.__dict__:  # rows looked up for the scores: the tied ones taken
        costs = plugin.tie_costs(cycle.subset(tied))
    else:
        names = scores.names
        costs = plugin.tie_costs(
            CycleState(cycle.state, cycle.pod, [names[i] for i in tied.tolist()])
        )
    if costs is None:
        return
    costs = np.asarray(costs, dtype=np.float64)
    if costs.shape != tied.shape:
        raise ValueError(f"{plugin.name}: {costs.shape} tie costs for {len(tied)} tied nodes")
    _drop_costlier(lv, tied, costs)
    # One array changed; `levels` is made from it when read: the two views cannot drift apart.
    scores.level_array = lv


def _top_sample() -> tuple[npt.NDArray[np.int64]]:
    return (np.array([3, 1, 3], np.int64),)


@kernel(_top_sample)
def _top_positions(levels: npt.NDArray[np.int64]) -> Rows:
    """The positions holding the highest level (at least one level), ascending."""
    top = levels[0]
    for v in levels:
        top = max(top, v)
    out = np.empty(len(levels), np.intp)
    m = 0
    for i in range(len(levels)):
        if levels[i] == top:
            out[m] = i
            m += 1
    return out[:m]


def _drop_sample() -> tuple[npt.NDArray[np.int64], Rows, Floats]:
    return np.array([3, 1, 3], np.int64), np.array([0, 2], np.intp), np.array([0.5, 0.25])


@kernel(_drop_sample)
def _drop_costlier(levels: npt.NDArray[np.int64], tied: Rows, costs: Floats) -> None:
    """`levels[tied[k]] -= 1` for each tied node costing more than the cheapest, the costs
    rounded to 6 decimals first as numpy's `round(6)` does (times 1e6, rint, divided by 1e6:
    float noise is not a preference); a NaN cost makes the minimum NaN, dropping none."""
    rounded = np.empty(len(costs))
    for k in range(len(costs)):
        rounded[k] = np.rint(costs[k] * 1e6) / 1e6
    low = rounded[0]
    for v in rounded:
        if v != v:
            return
        low = min(low, v)
    for k in range(len(tied)):
        if rounded[k] > low:
            levels[tied[k]] -= 1


def batch_scores(
    state: ClusterState, pod: PodRequest, names: Sequence[str], profile: Profile
) -> NodeScores | None:
    """`run_scores` when the batch path can answer it, else None (for callers that rank only
    when ranking is cheap, like the gang planner's candidate cut)."""
    got = _batch_scores(CycleState(state, pod, names), profile)
    return None if got is None else _scaled(names, got, profile.total_weight)


def _scaled(
    names: Sequence[str],
    sums: Sequence[float] | npt.NDArray[np.float64],
    total: float,
    spread: Rows | None = None,
) -> NodeScores:
    """Weighted sums of the scorers as 0..10 integers and 0..100 levels of their mean.
    `spread`: `sums` are one per distinct state and candidate i takes `sums[spread[i]]`
    (scaled per state, then spread: the same integers, elementwise)."""
    if total <= 0:
        return NodeScores(names, [0] * len(names), [0] * len(names))
    values = np.asarray(sums, dtype=np.float64)
    if spread is None:
        out = _scale(values, float(total), _NO_ROWS, False)
    else:
        out = _scale(values, float(total), spread, True)
    return NodeScores(names, level_array=out[1], int_array=out[0])


_NO_ROWS = np.zeros(0, np.intp)  # `_scale` without a spread


def _scale_sample() -> tuple[Floats, float, Rows, bool]:
    return np.array([0.5, 1.0]), 2.0, np.array([1, 0, 1], np.intp), True


@kernel(_scale_sample)
def _scale(sums: Floats, total: float, spread: Rows, spreading: bool) -> npt.NDArray[np.int64]:
    """`_scaled`'s two rows: row 0 rint(MAX_SCORE * sum / total), row 1 the same with
    MAX_LEVEL (numpy's multiply, divide and round-half-even, per element); candidate i
    takes `sums[spread[i]]` when `spreading`, else `sums[i]`."""
    m = len(sums)
    per = np.empty((2, m), np.int64)  # per sum (a state's, when spreading): scaled once
    for i in range(m):
        per[0, i] = np.int64(np.rint(_SCORE_SCALE * sums[i] / total))
        per[1, i] = np.int64(np.rint(_LEVEL_SCALE * sums[i] / total))
    if not spreading:
        return per
    out = np.empty((2, len(spread)), np.int64)
    for i in range(len(spread)):
        out[0, i] = per[0, spread[i]]
        out[1, i] = per[1, spread[i]]
    return out


_SCORE_SCALE, _LEVEL_SCALE = float(MAX_SCORE), float(MAX_LEVEL)  # `_scale`'s two scales


def _node_sums(cycle: CycleState, names: Sequence[str], profile: Profile) -> list[float]:
    """Per node, the weighted sum of the scorers' values in [0, 1] (unknown nodes: 0)."""
    total_weight = profile.total_weight
    state, pod, nodes = cycle.state, cycle.pod, cycle.state.nodes
    live = [
        (p, w, takes)
        for (p, w), takes in zip(profile.scorers, profile.scorer_takes_cycle, strict=True)
        if w > 0
    ]
    out: list[float] = []
    for name in names:
        node = nodes.get(name)
        if node is None or total_weight <= 0:
            out.append(0.0)
            continue
        acc = 0.0
        for p, weight, takes in live:
            value = p.score(state, pod, node, cycle) if takes else p.score(state, pod, node)
            acc += weight * _clamp(value)
        out.append(acc)
    return out


def _batch_scores(cycle: CycleState, profile: Profile) -> npt.NDArray[np.float64] | None:
    """The weighted sum per candidate from the batch scorers, or None (per-node path)."""
    got = _batch_sums(cycle, profile)
    if got is None:
        return None
    acc, spread = got
    return acc if spread is None else acc.take(spread)


def _batch_sums(
    cycle: CycleState, profile: Profile, scored: CycleState | None = None
) -> tuple[npt.NDArray[np.float64], Rows | None] | None:
    """(sums, spread): the weighted sums per candidate and None, or, when every candidate
    takes the sum of its state's representative as it is (no row left to the per-node path,
    every name known), the sums per distinct state and each candidate's position among them
    (`_distinct`; `scored`: that subset, when the caller formed it), so the caller scales
    one value per state."""
    plugins = profile.batch_scorers
    if plugins is None or not cycle.state.nodes:  # an empty index has no rows to gather from
        return None
    n = len(cycle.names)
    if profile.total_weight <= 0:  # (the live scorers' weights: `plugins` are all of them)
        return np.zeros(n), None
    scored, spread = _distinct(cycle, profile, scored)
    # One array op per step over every scorer at once (this runs per pod); the weighted sum is
    # still added scorer by scorer, in profile order, as the per-node path does.
    table = np.empty((len(plugins), len(scored.names)))
    for i, (plugin, _) in enumerate(plugins):
        values = plugin.score_rows(scored)
        if values is None:
            return None
        table[i] = values
    # The sums, and whether some row is left to the per-node path (a slow row or a NaN value:
    # most pods have none, so which ones is asked only then).
    slow = scored.index.slow
    acc, some_left = _weighted_sum(table, profile.batch_weights, slow, scored.rows)
    known = cycle.known
    all_known = np.count_nonzero(known) == len(known)
    if spread is not None:  # each candidate takes the sum of its state's representative
        if not some_left and all_known:
            return acc, spread
        acc = acc.take(spread)
    if not all_known:
        acc[~known] = 0.0
    if some_left:
        slow = scored.index.slow
        left = slow.take(scored.rows) | np.logical_or.reduce(np.isnan(table), axis=0)
        if spread is not None:
            left = left.take(spread)
        redo = np.flatnonzero(left & known)
        if len(redo):
            acc[redo] = _node_sums(cycle, [cycle.names[i] for i in redo.tolist()], profile)
    return acc, None


def _distinct(
    cycle: CycleState, profile: Profile, scored: CycleState | None = None
) -> tuple[CycleState, Rows | None]:
    """(the cycle to score, the position in it of each candidate's representative): one row
    per distinct index state when every scorer allows it (`Profile.scores_by_state`) and some
    state repeats, else the cycle itself and None. Exact: rows of one state get the same value
    from such scorers, and the weighted sum is formed per row in the same order either way."""
    groups = _groups(cycle) if profile.scores_by_state else None
    if groups is None:
        return cycle, None
    if scored is None:  # (else the filters' subset of `cycle` by these groups: `_groups`)
        scored = cycle.subset(groups[0])
    cycle.by_state(scored, groups[1])  # (the tie-break's subset reads what the scorers shared)
    return scored, groups[1]


def _weighted_sum(table: Floats, weights: Floats, slow: Bools, rows: Rows) -> tuple[Floats, bool]:
    """(per column of `table` (a row per scorer) 0 + w_0 v_0 + w_1 v_1 + ..., each v clamped
    to [0, 1] (NaN as 0: a row left to the per-node path adds nothing), added scorer by
    scorer in profile order as the per-node path does; whether some column is left to the
    per-node path: `slow[rows[j]]` or a NaN value). `weights`: a column, one row per scorer.
    The 0 first makes a -0.0 first term start the sum as 0 + -0.0 = 0.0 does."""
    acc, left = _weigh(table, weights, slow, rows)
    return acc, bool(left)


def _weigh_sample() -> tuple[Floats, Floats, Bools, Rows]:
    return np.zeros((2, 3)), np.ones((2, 1)), np.zeros(2, bool), np.zeros(3, np.intp)


@kernel(_weigh_sample)
def _weigh(table: Floats, weights: Floats, slow: Bools, rows: Rows) -> tuple[Floats, bool]:
    """`_weighted_sum` in one pass (a clamp, a multiply and an add per value, in order)."""
    k, m = table.shape
    acc = np.empty(m)
    left = False
    for j in range(m):
        if slow[rows[j]]:
            left = True
        total = 0.0
        for i in range(k):
            v = table[i, j]
            if v != v:  # NaN: `fmax(v, 0)` is 0
                left = True
                v = 0.0
            elif v < 0.0:
                v = 0.0
            elif v > 1.0:
                v = 1.0
            total = total + weights[i, 0] * v
        acc[j] = total
    return acc, left


def _clamp(value: float) -> float:
    if value != value:  # NaN from a broken scorer counts as worst, not as a crash
        return 0.0
    return 0.0 if value < 0 else 1.0 if value > 1 else value
