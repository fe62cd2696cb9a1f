"""The look-ahead tie-break's compiled kernels (`packing.jit`): each replaces a run of small
numpy steps of `lookahead_cost` and answers bit for bit what those steps did (integers are
exact in any order; float sums follow numpy's pairwise order, `packing.fgd.add_reduce`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from packing.fgd import add_reduce
from packing.fractional import NO_GPU
from packing.jit import inner, kernel
from scheduler.policy.model import MILLI_PER_GPU as MILLI

NONE = 1 << 30  # "no GPU fits" in the tightest-GPU search

# Rows of `WithState.columns` (int64 per shape column, column 0 the state itself)
AT, NEED_AT, NEED, SHARE, COUNT, START, TAKEN = range(7)


# A node state's key (one int64 row): its free milli per GPU column, the interval of
# `TableCells.breaks` its free CPU falls in, its model code (`StateMemo`: the states of one
# key get one answer); `increases` reads the keys.


def _sample_state_keys() -> tuple[Any, ...]:
    i8 = np.int64
    return np.zeros((2, 8), i8), np.zeros(2, i8), np.zeros(2, i8), np.zeros(2, i8)


@kernel(_sample_state_keys)
def state_keys(free, cpu, model, breaks):  # fmt: skip
    """The keys of states given as (free milli per GPU, free CPU, model) arrays."""
    k, gpus = free.shape
    keys = np.empty((k, gpus + 2), np.int64)
    for i in range(k):  # (loops, not slice assignments: a fraction of the compile time)
        for j in range(gpus):
            keys[i, j] = free[i, j]
        keys[i, gpus] = np.searchsorted(breaks, cpu[i], side="right")
        keys[i, gpus + 1] = model[i]
    return keys


def _sample_row_keys() -> tuple[Any, ...]:
    """The fleet index's columns (int16 free milli and models, int64 CPU) and rows."""
    i8 = np.int64
    return (np.zeros((2, 8), np.int16), np.zeros(2, i8), np.zeros(2, np.int16), np.zeros(1, i8),
            np.zeros(2, i8), np.zeros((1, 10), i8))  # fmt: skip


@kernel(_sample_row_keys)
def row_keys(free, cpu, model, rows, breaks, extra):  # fmt: skip
    """The keys of the fleet index's `rows` (its columns `free`, `cpu`, `model`), then the
    keys `extra`, in one array."""
    k = rows.shape[0]
    gpus = free.shape[1]
    keys = np.empty((k + extra.shape[0], gpus + 2), np.int64)
    for i in range(k):
        r = rows[i]
        for j in range(gpus):
            keys[i, j] = free[r, j]
        keys[i, gpus] = np.searchsorted(breaks, cpu[r], side="right")
        keys[i, gpus + 1] = model[r]
    for i in range(extra.shape[0]):
        for j in range(gpus + 2):
            keys[k + i, j] = extra[i, j]
    return keys


def _sample_post_keys() -> tuple[Any, ...]:
    i8 = np.int64
    return (np.zeros((2, 8), np.int16), np.zeros(2, i8), np.zeros(2, np.int16), np.zeros(2, i8),
            np.zeros(1, np.intp), np.zeros((2, 8), bool), 1000, 0, np.zeros(2, i8))  # fmt: skip


@kernel(_sample_post_keys)
def post_keys(free, cpu, model, rows, first, take, milli, pod_cpu, breaks):  # fmt: skip
    """The keys of the states after a pod, one per entry of `first` (positions in `rows`, the
    fleet index's rows): the columns `take[position]` lose `milli` each, the CPU `pod_cpu`."""
    gpus = free.shape[1]
    keys = np.empty((first.shape[0], gpus + 2), np.int64)
    for s in range(first.shape[0]):
        i = first[s]
        r = rows[i]
        for j in range(gpus):
            v = np.int64(free[r, j])
            keys[s, j] = v - milli if take[i, j] else v
        keys[s, gpus] = np.searchsorted(breaks, cpu[r] - pod_cpu, side="right")
        keys[s, gpus + 1] = model[r]
    return keys


def _sample_increases() -> tuple[Any, ...]:
    """Arguments of `increases`' types: 2 states of 8 GPUs, 2 thresholds, 1 shape."""
    i8 = np.int64
    columns = np.zeros((7, 2), i8)
    return (
        np.zeros((2, 10), i8), np.zeros(2, np.intp), np.array([500, 1000]),
        columns, np.ones((2, 2), bool), np.ones((1, 2), bool),
        np.zeros(64), np.zeros(2, i8), np.zeros((2, 2), i8), np.zeros((2, 2), np.int32),
        np.zeros((2, 2), i8), 1, 1, True,
    )  # fmt: skip


@kernel(_sample_increases)
def increases(
    keys, at, th, columns, cpu_fits, allowed, flat, offset, cnt_cells, big_moves, cpu_column,
    per_count, per_model, counts_fit,
):  # fmt: skip
    """`best_increase`'s tabulated answer for the states of `keys[at]`: (K, T + 1) each
    shape's increase, +inf where it does not fit, then the state's fragmentation; False (and
    nothing computed) when some free milli is above 1000, which the tables do not cover. Per
    state: its per-threshold counts, then for the state itself (column 0 of `columns`) and
    each shape that fits, the `Moves` row it reads, the flat table positions and the
    fragmentation `total - sum(w * big)`, the same integers, products and pairwise sum as
    `FragTable.frag_from_counts`."""
    k_states = at.shape[0]
    gpus = keys.shape[1] - 2
    m = th.shape[0]
    t1 = columns.shape[1]
    out = np.empty((k_states, t1))
    cnt = np.empty(m, np.int64)
    big = np.empty(m, np.int64)
    g = np.empty(gpus, np.int64)
    w = np.empty(m)
    for k in range(k_states):
        key = keys[at[k]]
        total = 0
        idle = 0
        for i in range(m):
            cnt[i] = 0
            big[i] = 0
        for j in range(gpus):
            v = key[j]
            if v == MILLI:
                idle += 1
            elif v == NO_GPU:
                v = 0
            elif v > MILLI:
                return out, False
            g[j] = v
            total += v
            for i in range(m):
                if v >= th[i]:
                    cnt[i] += 1
                    big[i] += v
        bucket = key[gpus]  # (free CPU's interval of `breaks`)
        mdl = key[gpus + 1]
        base = mdl * per_model
        f0 = 0.0
        for s in range(t1):
            share = columns[SHARE, s] != 0
            tight = NONE  # a share's tightest GPU: the fullest one at or above its milli
            if share and m > 0:
                need = th[columns[AT, s]]
                for j in range(gpus):
                    if g[j] >= need and g[j] < tight:
                        tight = g[j]
            if counts_fit:
                fit = cnt[columns[NEED_AT, s]] >= columns[NEED, s]
            elif share:
                fit = tight < NONE
            else:
                fit = idle >= columns[COUNT, s]
            fit = fit and cpu_fits[bucket, s] and allowed[mdl, s]
            if not fit:  # (never column 0: the state itself always fits)
                out[k, s - 1] = np.inf
                continue
            row = columns[START, s] + (tight if share else 0)
            tot2 = total - columns[TAKEN, s]
            col = cpu_column[bucket, s]
            for i in range(m):
                pos = cnt[i] * per_count + offset[i] + base - cnt_cells[row, i] + col
                w[i] = flat[pos] * np.float64(big[i] - big_moves[row, i])
            f = np.float64(tot2) - add_reduce(w, 0, m)
            if s == 0:
                f0 = f
                out[k, t1 - 1] = f
            else:
                out[k, s - 1] = f - f0
    return out, True


@inner
def _minimum(a: float, b: float) -> float:
    """`np.minimum` of two floats: the lower, NaN if either is NaN."""
    return a if a < b or a != a else b


@inner
def _before(a: float, b: float) -> bool:
    """Whether `a` sorts before `b` in `np.sort` / `np.partition` order (NaN last)."""
    return a < b or (b != b and a == a)


def _sample_blocks() -> tuple[Any, ...]:
    """`redo_blocks`' argument types: the values a strided view of records, as `_best`'s."""
    values = np.zeros((3, 3))[:, :2]
    return (values, 2, np.zeros(1, np.intp), np.zeros((2, 2)), np.zeros((2, 2), np.intp),
            np.zeros((2, 2)))  # fmt: skip


@kernel(_sample_blocks)
def redo_blocks(values, block, rows, first, low, second):  # fmt: skip
    """Per block of `block` rows of `values` holding one of `rows`, per column: the lowest
    value (`first`), its first row (`low`, `argmin`'s: the first NaN if any), and the second
    value in sorted order (`second`: `partition(1)`'s, a repeated lowest its own second),
    +inf for a block of one row; written in place at the block's index. (Row by row, every
    column in step: the rows are contiguous.)"""
    n, t = values.shape
    seen = np.empty(t)  # per column, `argmin`'s lowest so far (NaN: it stopped there)
    last = -1
    for r in rows:
        j = r // block
        if j == last:
            continue
        last = j
        lo = j * block
        hi = min(lo + block, n)
        if hi <= lo:
            continue
        if hi - lo < 2:
            for c in range(t):
                first[j, c], low[j, c], second[j, c] = values[lo, c], lo, np.inf
            continue
        for c in range(t):
            v0, v1 = values[lo, c], values[lo + 1, c]
            seen[c], low[j, c] = v0, lo
            if v0 == v0 and not v1 >= v0:
                seen[c], low[j, c] = v1, lo + 1
            # the two first in sorted order (NaN last)
            if _before(v1, v0):
                first[j, c], second[j, c] = v1, v0
            else:
                first[j, c], second[j, c] = v0, v1
        for i in range(lo + 2, hi):
            for c in range(t):
                v = values[i, c]
                s = seen[c]
                if s == s and not v >= s:
                    seen[c], low[j, c] = v, i
                if _before(v, first[j, c]):
                    second[j, c] = first[j, c]
                    first[j, c] = v
                elif _before(v, second[j, c]):
                    second[j, c] = v


def _sample_merge() -> tuple[Any, ...]:
    return np.zeros((2, 2)), np.zeros((2, 2), np.intp), np.zeros((2, 2))


@kernel(_sample_merge)
def merge_blocks(first, low, second):  # fmt: skip
    """`top_two` of the whole array from its blocks' (`redo_blocks`): per column the first
    block holding the lowest (`argmin` over the blocks), its lowest and row, and the lower of
    the other blocks' lowest (`np.minimum`, block after block) and that block's second."""
    nb, t = first.shape
    best = first[0].copy()
    at = np.zeros(t, np.intp)
    for j in range(1, nb):
        for c in range(t):
            v, s = first[j, c], best[c]
            if s == s and not v >= s:
                best[c], at[c] = v, j
    other = np.empty(t)
    for c in range(t):
        other[c] = np.inf if at[c] == 0 else first[0, c]
    for j in range(1, nb):
        for c in range(t):
            other[c] = _minimum(other[c], np.inf if j == at[c] else first[j, c])
    row = np.empty(t, np.intp)
    for c in range(t):
        row[c] = low[at[c], c]
        other[c] = _minimum(other[c], second[at[c], c])
    return best, row, other


def _sample_two_step() -> tuple[Any, ...]:
    """`two_step`'s argument types: the states after the pod strided columns of one store,
    as `_best` hands them."""
    store = np.zeros((2, 3))
    i = np.zeros(2, np.intp)
    f = np.zeros(2)
    return i, f, i, store[:, :-1], store[:, -1], f, i, f, f


@kernel(_sample_two_step)
def two_step(rows, frag_now, inv, after, frag_after, first_best, low, second, lost):  # fmt: skip
    """`two_step_costs`' terms per row but the weighted sum: (the fragmentation change of the
    pod, `frag_after[inv] - frag_now`; per shape the best increase of its next pod, here after
    the pod or elsewhere as now, the lowest of the other rows where this row holds the
    lowest, or the shape's lost milli where it fits nowhere)."""
    n = rows.shape[0]
    m, t = after.shape
    # Per state after the pod, the terms of a row holding no shape's lowest (rows of one
    # state share them: each is worked out once per state, then copied to the rows).
    common = np.empty((m, t))
    for s in range(m):
        for c in range(t):
            both = _minimum(after[s, c], first_best[c])
            common[s, c] = lost[c] if np.isinf(both) else both
    inc = np.empty(n)
    step = np.empty((n, t))
    top = -1
    for i in range(n):
        s = inv[i]
        inc[i] = frag_after[s] - frag_now[i]
        for c in range(t):
            step[i, c] = common[s, c]
        top = max(top, rows[i])
    # The positions of the row holding shape c's lowest take its second lowest instead
    # (a chain per row: `last` its last position, `prev` the one before, -1 at the end).
    last = np.full(top + 1, -1, np.intp)
    prev = np.empty(n, np.intp)
    for i in range(n):
        prev[i] = last[rows[i]]
        last[rows[i]] = i
    for c in range(t):
        r = low[c]
        i = last[r] if 0 <= r <= top else -1
        while i >= 0:
            both = _minimum(after[inv[i], c], second[c])
            step[i, c] = lost[c] if np.isinf(both) else both
            i = prev[i]
    return inc, step


def _sample_alike() -> tuple[Any, ...]:
    i8 = np.int64
    return (np.zeros((2, 8), np.int16), np.zeros(2, i8), np.zeros(2, np.int16), np.zeros(2, i8),
            np.zeros(2, np.intp))  # fmt: skip


@kernel(_sample_alike)
def alike(free, cpu, model, rows, first):  # fmt: skip
    """Whether the fleet index's rows `rows[first]` (one or more) are all in one state: the
    same free milli per GPU column, free CPU and model (idle nodes of one type, the common
    tie); True for no rows."""
    if first.shape[0] == 0:
        return True
    r0 = rows[first[0]]
    for s in range(1, first.shape[0]):
        r = rows[first[s]]
        if cpu[r] != cpu[r0] or model[r] != model[r0]:
            return False
        for j in range(free.shape[1]):
            if free[r, j] != free[r0, j]:
                return False
    return True
