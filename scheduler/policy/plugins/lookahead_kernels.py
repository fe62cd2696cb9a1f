"""The look-ahead tie-break's compiled kernels (`packing.jit`): each replaces a run of small
numpy steps of `lookahead_cost` and answers bit for bit what those steps did (integers are
exact in any order; float sums follow numpy's pairwise order, `pairwise_sum`)."""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
import numpy.typing as npt

from packing.fractional import NO_GPU
from packing.jit import kernel
from scheduler.policy.model import MILLI_PER_GPU as MILLI

NONE = 1 << 30  # "no GPU fits" in the tightest-GPU search

# Rows of `WithState.columns` (int64 per shape column, column 0 the state itself)
AT, NEED_AT, NEED, SHARE, COUNT, START, TAKEN = range(7)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _block_sum(a: npt.NDArray[np.float64], lo: int, n: int) -> float:
    """numpy's pairwise sum of a[lo : lo + n] for n <= 128: under 8 values left to right from
    0.0, else 8 running sums over blocks of 8, combined in pairs, the tail added one by one."""
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    end = n - n % 8
    while i < end:
        r0 += a[lo + i]
        r1 += a[lo + i + 1]
        r2 += a[lo + i + 2]
        r3 += a[lo + i + 3]
        r4 += a[lo + i + 4]
        r5 += a[lo + i + 5]
        r6 += a[lo + i + 6]
        r7 += a[lo + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@numba.njit(cache=True, nogil=True, error_model="numpy")
def pairwise_sum(a: npt.NDArray[np.float64], lo: int, n: int) -> float:
    """`np.add.reduce` of a[lo : lo + n] (contiguous) as numpy adds it (from 0.0): up to 128
    values `_block_sum`; more the sum of two halves (the first a multiple of 8), each summed
    the same way. (The halves are walked with a stack, not by recursion: numba's on-disk
    cache does not hold recursive functions.)"""
    if n <= 128:
        return 0.0 + _block_sum(a, lo, n)
    # frame f: a[start[f] : start[f] + size[f]]; done[f] 0 none of its halves summed yet,
    # 1 its first half summed (in first[f])
    start = np.empty(64, np.int64)
    size = np.empty(64, np.int64)
    done = np.empty(64, np.int64)
    first = np.empty(64)
    top = 0
    start[0], size[0], done[0] = lo, n, 0
    while True:
        if size[top] > 128:  # split: go down the first half
            half = size[top] // 2
            half -= half % 8
            top += 1
            start[top], size[top], done[top] = start[top - 1], half, 0
            continue
        v = _block_sum(a, start[top], size[top])
        while True:  # hand v up until a frame still needs its second half
            top -= 1
            if top < 0:
                return 0.0 + v
            half = size[top] // 2
            half -= half % 8
            if done[top] == 0:
                first[top] = v
                done[top] = 1
                top += 1
                start[top], size[top], done[top] = start[top - 1] + half, size[top - 1] - half, 0
                break
            v = first[top] + v


def _sample_increases() -> tuple[Any, ...]:
    """Arguments of `increases`' types: 2 states of 8 GPUs, 2 thresholds, 1 shape."""
    i8 = np.int64
    columns = np.zeros((7, 2), i8)
    return (
        np.zeros((2, 8), i8), np.zeros(2, i8), np.zeros(2, np.intp), np.array([500, 1000]),
        np.zeros(1, i8), columns, np.ones((2, 2), bool), np.ones((1, 2), bool),
        np.zeros(64), np.zeros(2, i8), np.zeros((2, 2), i8), np.zeros((2, 2), np.int32),
        np.zeros((2, 2), i8), 1, 1, True,
    )  # fmt: skip


@kernel(_sample_increases)
def increases(
    pf, cpu, model, th, breaks, columns, cpu_fits, allowed, flat, offset, cnt_cells, big_moves,
    cpu_column, per_count, per_model, counts_fit,
):  # fmt: skip
    """`best_increase`'s tabulated answer: ((K, T) increases, +inf where a shape does not fit;
    (K,) each state's fragmentation; False (and nothing computed) when some free milli is
    above 1000, which the tables do not cover). Per state: its per-threshold counts, then for
    the state itself (column 0) and each shape that fits, the `Moves` row it reads, the flat
    table positions and the fragmentation `total - sum(w * big)`, the same integers, products
    and pairwise sum as `FragTable.frag_from_counts`."""
    k_states, gpus = pf.shape
    m = th.shape[0]
    t1 = columns.shape[1]
    out = np.empty((k_states, t1 - 1))
    frag0 = np.empty(k_states)
    cnt = np.empty(m, np.int64)
    big = np.empty(m, np.int64)
    g = np.empty(gpus, np.int64)
    w = np.empty(m)
    for k in range(k_states):
        total = 0
        idle = 0
        cnt[:] = 0
        big[:] = 0
        for j in range(gpus):
            v = pf[k, j]
            if v == MILLI:
                idle += 1
            elif v == NO_GPU:
                v = 0
            elif v > MILLI:
                return out, frag0, False
            g[j] = v
            total += v
            for i in range(m):
                if v >= th[i]:
                    cnt[i] += 1
                    big[i] += v
        # free CPU's interval of `breaks` (`searchsorted(..., side="right")`)
        c = cpu[k]
        lo, hi = 0, breaks.shape[0]
        while lo < hi:
            mid = (lo + hi) >> 1
            if breaks[mid] <= c:
                lo = mid + 1
            else:
                hi = mid
        bucket = lo
        mdl = model[k]
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
            f = np.float64(tot2) - pairwise_sum(w, 0, m)
            if s == 0:
                f0 = f
                frag0[k] = f
            else:
                out[k, s - 1] = f - f0
    return out, frag0, True
