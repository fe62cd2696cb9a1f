"""Tie-break: among the nodes that share the top score, the one whose placement leaves the
cluster best placed for the next typical pod (a one-step look-ahead over the observed mix).

The scorers rank nodes on 0..100 levels, and many nodes often share the top level (the FGD
fill: about half the pods). Without a tie-break the node order decides. This plugin decides
instead, by the expected fragmentation of two placements: this pod on node n, then one more pod
drawn from the pods seen so far (`ClusterState.demand`, FGD's typical mix) placed wherever it
fragments least. For each tied node n (FGD's measure, GPU milli, against the mix's table):

    cost(n) = inc(pod on n) + sum over typical shapes t of p_t x c_t(n)
    c_t(n)  = min(inc(t on n after the pod), best(t on any other node, as it is now)),
              or t's GPU milli (t x count) when t fits nowhere: that demand is lost

where inc(t on a node) places t as the policy would (a share on the tightest GPU that fits, a
whole-GPU shape on idle GPUs; CPU counted) and is +inf where t does not fit. The tied nodes
with the lowest cost keep the top level, the other tied nodes drop one level (the
`NodeScores.levels` the fill and the extender's choose mode rank by; the 0..10 integers are
unchanged: their scale is too coarse to carry it). Lower cost is better.

Nothing is decided for CPU-only pods (their ties go to the caller's order: deciding them by
the look-ahead cost 1.2 pp of the cluster on the CPU-heavy cpu250 list, RESULTS.md "Round 6
leads"), when there is no demand mix yet, for MIG pods (FGD's measure is for shares and whole
GPUs), when a tied node is one the fleet index cannot represent exactly, or when all
tied nodes are in the same state (their costs are equal: the common tie of idle nodes).
Cost: the best increase of every typical shape on every node is memoised per fleet-index row
(`FleetIndex.per_row`; only the rows a bind changed are recomputed), and only the tied nodes'
distinct states are evaluated after the pod; both go through `StateMemo`, which computes a node
state (free milli per GPU, model, free CPU up to the values it is compared with) once per mix.
How each shape moves FGD's per-threshold counts does not depend on the mix's weights: those
moves are tables (`Moves`) kept across the mixes the log republishes.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from packing.fgd import FragTable
from scheduler.policy import batch, filtering
from scheduler.policy.demand import DemandMix
from scheduler.policy.fleet_index import FleetIndex, distinct
from scheduler.policy.fleet_memo import group_ids
from scheduler.policy.interfaces import CycleState, Floats, Rows
from scheduler.policy.model import MILLI_PER_GPU
from scheduler.policy.plugins import lookahead_kernels
from scheduler.policy.plugins.lookahead_cost import (
    BlockTopTwo,
    MixShapes,
    StateMemo,
    two_step_costs,
)


class LookAhead:
    name = "LookAhead"

    def __init__(self, args: None = None) -> None:
        """Takes no settings (the registry's factory call)."""

    def tie_costs(self, cycle: CycleState) -> Floats | None:
        """`cost(n)` for every candidate of `cycle` (the tied nodes), or None when this pod is
        not one the look-ahead judges (a CPU-only or MIG pod, no mix yet: module docstring) or
        every candidate is in the same state (same free milli per GPU, CPU and model: equal
        costs, nothing to decide)."""
        state, pod = cycle.state, cycle.pod
        mix = state.demand
        g = pod.gpu
        if mix is None or mix.workload is None or g is None or g.kind == "mig":
            return None
        if not batch.scorable(pod):
            return None
        idx = cycle.index
        rows = cycle.rows
        # (the filters' one-pass check: no tied row slow, every tied name known)
        if not filtering.none_slow_all_known(idx.slow, rows, cycle.known):
            return None
        # The tied nodes after the pod; often identical (idle nodes of one type): each
        # distinct state once. Rows of one index state (`state_ids`) have the same free milli,
        # CPU, model and placement columns, so the same state after the pod.
        # (the states the scores grouped the candidates by, when this is a subset of them:
        # the same groups, without forming the state ids' groups again)
        at = cycle.parent_states()
        groups = distinct(idx.state_ids().take(rows)) if at is None else group_ids(at)
        if groups is None:
            first, inv = np.arange(len(rows)), np.arange(len(rows))
        else:
            first, inv = groups
            if len(first) == 1:  # one index state: alike
                return None
        # (one row per state: alike iff all rows are)
        if lookahead_kernels.alike(idx.plain_free, idx.cpu, idx.product, rows, first):
            return None
        keys = tuple(idx.keys)
        table = mix.table(keys, max(8, idx.slots))
        assert table is not None  # the mix has a workload
        sh = _shapes(mix, keys)
        memo = _state_memo(mix, keys, idx.slots, table, sh)
        take = batch.placement_columns(cycle)[1]
        milli = MILLI_PER_GPU if g.kind == "whole" else g.milli
        states = lookahead_kernels.post_keys(
            idx.plain_free, idx.cpu, idx.product, rows, first, take, milli, pod.cpu_milli,
            memo.breaks,
        )  # fmt: skip
        now, after, frag_after, top = self._best(idx, mix, memo, states)
        frag_now = now["frag"].take(rows)
        return two_step_costs(sh, rows, frag_now, now["inc"], inv, after, frag_after, top)

    @staticmethod
    def _best(
        idx: FleetIndex, mix: DemandMix, memo: StateMemo, extra: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[Any], Floats, Floats, tuple[Floats, npt.NDArray[np.intp], Floats]]:
        """(every row now: `best_increase` and fragmentation, memoised per row; the same for
        the `extra` states; `top_two` of the rows' increases), in one `StateMemo.of_keys`
        call when some rows changed since. `extra`: the states' keys (`lookahead_kernels`)."""
        key = ("lookahead-best", mix.serial, len(idx.keys))
        if key not in idx.row_memo:  # a new mix: drop the rows against the ones it replaced
            idx.forget(lambda k: isinstance(k, tuple) and k[:1] == key[:1] and k != key)
        stash: list[Floats] = []
        redone: list[Rows] = []
        n = len(extra)

        def compute(r: Rows) -> npt.NDArray[Any]:
            redone.append(r)
            k = len(r)
            # (the index rows' keys, then the `extra` states')
            got = memo.of_keys(
                lookahead_kernels.row_keys(
                    idx.plain_free, idx.cpu, idx.product, np.asarray(r, np.int64), memo.breaks,
                    extra,
                )
            )  # fmt: skip
            stash.append(got[k:])
            mine = got[:k]  # (C-contiguous: the leading rows of a fresh copy)
            # Rows the index cannot represent exactly, or gone, host nothing here.
            if k == 1:  # (a bind: its one row, read as Python values)
                one = int(r[0])
                if not idx.alive[one] or idx.slow[one]:
                    mine[0, :-1] = np.inf
            else:
                mine[~idx.alive[r] | idx.slow[r], :-1] = np.inf
            # One record a row (a 2-D array's second axis would read as GPU columns): the
            # record's two fields are the row's increases then its fragmentation, the
            # layout of `answers`' rows, so the rows are read as records over the same
            # memory, not copied (a buffer, not `view`: no Python-level layout check).
            return np.ndarray((k,), _record(mine.shape[1] - 1), mine)

        now = idx.per_row(key, compute)
        if not stash:  # no row changed: the extra states alone
            stash.append(memo.of_keys(extra))
        after, frag_after = stash[-1][:, :-1], stash[-1][:, -1]
        assert len(after) == n
        # `per_row` rewrites its record in place only through `compute`: the blocks of the
        # rows it redid are all that changed since, unless the record is another array.
        held = memo.top
        if held is None or held[0] is not now:
            top = BlockTopTwo(now["inc"])
            memo.top = (now, top)
        else:
            top = held[1]
            for r in redone:
                top.changed(r)
        return now, after, frag_after, top.get()


@lru_cache(maxsize=16)
def _record(t: int) -> np.dtype[Any]:
    """`_best`'s per-row record for t shapes: each shape's best increase, the fragmentation."""
    return np.dtype([("inc", np.float64, (t,)), ("frag", np.float64)])


def _state_memo(
    mix: DemandMix, keys: tuple[str, ...], slots: int, table: FragTable, sh: MixShapes
) -> StateMemo:
    """The mix's `StateMemo` for this model list and GPU-column count (`table` and `sh` are
    the mix's own for these `keys`)."""
    key = ("lookahead-states", keys, slots)
    got = mix.memo.get(key)
    if got is None or got.table is not table or got.sh is not sh:
        got = mix.memo[key] = StateMemo(table, sh)
    assert isinstance(got, StateMemo)
    return got


def _shapes(mix: DemandMix, keys: tuple[str, ...]) -> MixShapes:
    memo = mix.memo
    key = ("lookahead-shapes", keys)
    got = memo.get(key)
    if got is None:
        workload = mix.workload
        assert workload is not None
        got = memo[key] = MixShapes(workload, keys)
    assert isinstance(got, MixShapes)
    return got
