"""The filter side of the framework (`framework` runs the scorers): `run_filters` over many
nodes, `filter_node` over one, and the grouping of candidates by their fleet-index state that
both sides share (`_groups`).

As for the scorers, a profile whose filters all have `filter_rows` answers the candidate list
from the fleet index at once, one row per distinct state for filters that promise `state_only`;
rows the index cannot represent exactly, and rows a plugin marks `exact`, go through the
plugins node by node. The verdicts are the same either way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import compress
from typing import cast

import numpy as np
import numpy.typing as npt

from packing.jit import kernel
from scheduler.policy.fleet_memo import group_ids
from scheduler.policy.interfaces import (
    BatchFilterPlugin,
    Bools,
    CycleState,
    Profile,
    Rows,
    RowVerdicts,
)
from scheduler.policy.model import ClusterState, PodRequest
from scheduler.policy.results import FilterResult
from scheduler.policy.status import SUCCESS, Code, Status, error


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
        return _missing(node_name)
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
) -> FilterResult:
    """Verdicts for every node (passed in input order). `all_reasons` (for explain) asks every
    filter of every node, so it always takes the per-node path."""
    names = node_names if isinstance(node_names, list) else list(node_names)
    if not all_reasons:
        got = _batch_filter(state, pod, names, profile)
        if got is not None:
            return got
    return per_node(state, pod, names, profile, all_reasons=all_reasons)


def per_node(
    state: ClusterState,
    pod: PodRequest,
    names: list[str],
    profile: Profile,
    *,
    all_reasons: bool = False,
) -> FilterResult:
    """`run_filters` node by node (`filter_node`), never the batch path."""
    statuses = {n: filter_node(state, pod, n, profile, all_reasons=all_reasons) for n in names}
    return FilterResult.of(statuses, names)


def _missing(name: str) -> Status:
    return error(f"node {name!r} is not in the cluster state")


def _batch_filter(
    state: ClusterState, pod: PodRequest, names: list[str], profile: Profile
) -> FilterResult | None:
    got = filter_cycle(CycleState(state, pod, names), profile)
    return None if got is None else got[0]


def filter_cycle(
    cycle: CycleState, profile: Profile
) -> tuple[FilterResult, CycleState | None] | None:
    """The batch filter over `cycle`'s candidates (None: the per-node path must answer), with
    the subset of one candidate per distinct row state it judged the state-only filters on
    (None when it formed none): a caller scoring the same candidates next scores that subset
    (`framework.filter_and_score`) instead of forming it again."""
    state, pod = cycle.state, cycle.pod
    names = cast(list[str], cycle.names)  # (a list: `run_filters`, `filter_and_score`)
    plugins = profile.batch_filters
    if plugins is None or not state.nodes:  # an empty fleet index has no rows to gather from
        return None
    # Filters that promise `state_only` judge one row per distinct state (`_groups`).
    groups = _groups(cycle) if any(profile.filters_by_state) else None
    sub = None if groups is None else cycle.subset(groups[0])
    answers: list[RowVerdicts] = []
    for plugin, by_state in zip(plugins, profile.filters_by_state, strict=True):
        if sub is not None and groups is not None and by_state:
            got = plugin.filter_rows(sub)
            got = None if got is None else _spread_verdicts(got, groups[1])
        else:
            got = plugin.filter_rows(cycle)
        if got is None:
            return None
        answers.append(got)
    known = cycle.known
    # Profile order decides, as on the per-node path: a row fails at its first failing plugin.
    code: npt.NDArray[np.int8] | None = None  # made at the first failing row
    who = np.empty(0, np.int16)
    failing = asked = False
    # (`count_nonzero` and ufunc reductions, not `.any()` / `.all()`'s wrappers: this runs per pod)
    for i, v in enumerate(answers):
        # (the codes themselves reduced: most calls, every row passes this plugin)
        if v.code is not None and np.logical_or.reduce(v.code):
            if code is None:
                code = np.zeros(len(names), np.int8)
                who = np.full(len(names), -1, np.int16)
            failing = True
            first = (code == 0) & (v.code != 0)
            code[first] = v.code[first]
            who[first] = i
        if v.exact is not None and np.count_nonzero(v.exact):
            asked = True
    # `slow` is a row-state column: the states' representatives have it set exactly when some
    # candidate does (a take over the distinct states, not over every candidate).
    slow = cycle.index.slow
    plain = not asked and none_slow_all_known(slow, cycle.rows if sub is None else sub.rows, known)
    if plain and not failing:
        # The common answer: every row passes. (`list.copy`: a plain list even of a list
        # subclass such as `RowNames`, copied in C, where `list(...)` iterates a subclass.)
        return FilterResult(list.copy(names), names=names), sub
    if plain and code is not None:
        # Every verdict is the batch's own (no row exact, every name known): some fail. The
        # replay's usual answer (few nodes, a busy fleet), without the exact path's masks.
        return _batch_verdicts(names, code, who, plugins, answers), sub
    exact = slow[cycle.rows]  # fancy indexing: a fresh array
    for v in answers:
        if v.exact is not None:
            exact |= v.exact
    exact &= known
    judged = np.flatnonzero(known & ~exact)
    # The batch's verdicts for the candidates it judged, then the unknown and exact ones.
    out = _batch_verdicts(
        [names[i] for i in judged.tolist()],
        np.zeros(len(judged), np.int8) if code is None else code.take(judged),
        who if code is None else who.take(judged),
        plugins,
        answers,
    )
    out.names = names
    arr = np.asarray(names, dtype=object)
    for name in arr[~known].tolist():
        out.statuses[name] = _missing(name)
        out.failed[name] = out.statuses[name].message
    for i in np.flatnonzero(exact).tolist():
        name = names[i]
        st = out.statuses[name] = filter_node(state, pod, name, profile)
        if st.ok:
            out.passed.append(name)
        elif st.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
            out.unresolvable[name] = st.message
        else:
            out.failed[name] = st.message
    if exact.any():  # keep the caller's node order
        order = {n: i for i, n in enumerate(names)}
        out.passed.sort(key=order.__getitem__)
    return out, sub


def _batch_verdicts(
    names: list[str],
    code: npt.NDArray[np.int8],
    who: npt.NDArray[np.int16],
    plugins: Sequence[BatchFilterPlugin],
    answers: list[RowVerdicts],
) -> FilterResult:
    """`filter_cycle`'s verdicts for the candidates `names` the batch judged (all of them when
    every candidate is known and none is left to the exact path): a candidate passes when its
    `code` is 0, else fails with the summary reason of the plugin `who` names, one reason per
    plugin and code."""
    out = FilterResult(list(compress(names, (code == 0).tolist())), names=names)
    fails = np.flatnonzero(code)
    group = (who.take(fails).astype(np.int32) * 4 + code.take(fails)).tolist()
    failing = list(zip(fails.tolist(), group, strict=True))
    for g in sorted(set(group)):  # (plugin, code) pairs in ascending order, as `np.unique`
        i, c = divmod(g, 4)
        msg = f"{plugins[i].name}: {answers[i].reasons.get(Code(c), '')}"
        into = out.unresolvable if c == Code.UNSCHEDULABLE_AND_UNRESOLVABLE else out.failed
        into.update(dict.fromkeys([names[j] for j, h in failing if h == g], msg))
    return out


def _fast_sample() -> tuple[Bools, Rows, Bools]:
    return np.zeros(2, bool), np.zeros(1, np.intp), np.ones(1, bool)


@kernel(_fast_sample)
def none_slow_all_known(slow: Bools, rows: Rows, known: Bools) -> bool:
    """No row of `rows` is `slow` and every candidate is `known`: the batch filter's verdicts
    stand for every candidate (one pass, instead of a gather and two counts)."""
    for r in rows:
        if slow[r]:
            return False
    for k in known:  # noqa: SIM110  (a loop: nopython has no generator for `all`)
        if not k:
            return False
    return True


_GROUPS = ("state-groups",)  # the index memo holding `_groups` answers
# Fewer candidates are judged row by row: the state ids, their grouping and the subset
# cost more than the rows they would save (a replay's pod sees a few dozen nodes).
GROUPED_FROM = 64


def _groups(cycle: CycleState) -> tuple[Rows, Rows] | None:
    """(one candidate of each distinct row state, each candidate's position among those), or
    None when no state repeats (`group_ids`: which candidate stands for a state, and the
    order of the states, change no answer, since state-only plugins value every row of a state
    alike). Memoised on the index per candidate-rows array:
    filter and prioritize of one pod ask about the same list (`FleetIndex.rows_of` hands back
    the same array), and an index's row states never change under its memo (`refresh` drops
    it)."""
    rows = cycle.rows
    if len(rows) < GROUPED_FROM:
        return None
    idx = cycle.index
    memo: dict[int, tuple[Rows, tuple[Rows, Rows] | None]] | None = idx.memo.get(_GROUPS)
    if memo is None or len(memo) >= 4:
        memo = idx.memo[_GROUPS] = {}  # replaced, not mutated: safe for concurrent readers
    hit = memo.get(id(rows))
    if hit is not None and hit[0] is rows:  # the array itself is kept, so its id is not reused
        return hit[1]
    got = group_ids(idx.state_ids(), rows)
    memo[id(rows)] = (rows, got)
    return got


def _spread_verdicts(v: RowVerdicts, inverse: Rows) -> RowVerdicts:
    """A batch filter's answer for the distinct states, given to every candidate."""
    if v.exact is None and v.code is None:
        return v  # every state passes: so does every candidate (the same answer)
    if v.exact is None and v.code is not None and not np.logical_or.reduce(v.code):
        return RowVerdicts(None, v.reasons)  # every state passes: so does every candidate
    code = None if v.code is None else v.code.take(inverse)
    exact = None if v.exact is None else v.exact.take(inverse)
    return RowVerdicts(code, v.reasons, exact)
