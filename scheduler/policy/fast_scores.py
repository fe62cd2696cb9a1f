"""Vectorised prioritize for whole-GPU and share pods: Binpack, Fragmentation and GpuLoad at once.

The chosen GPUs are found as `fit.choose` finds them (whole: the lowest-index idle GPUs; share:
the tightest GPU that fits, lowest index on ties), then each scorer's formula is applied to the
columns of the `FleetIndex`. MIG pods, `slow` rows and scorers not listed here go through the
plugins one by one. tests/scheduler/policy/test_fast.py checks the values against the plugins.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from packing.fgd import FragTable, TargetWorkload, TaskShape
from packing.fleet import best_start, can_place
from packing.fragmentation import mig_frag_table
from scheduler.policy.fleet_index import NO_GPU, FleetIndex
from scheduler.policy.framework import MAX_SCORE, Profile, run_scores
from scheduler.policy.model import MILLI_PER_GPU, ClusterState, PodRequest
from scheduler.policy.plugins.binpack import Binpack
from scheduler.policy.plugins.fragmentation import SCALE_MILLI, FragmentationScore
from scheduler.policy.plugins.load import NEUTRAL, LoadScore, LoadSettings

Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]


def applicable(pod: PodRequest, profile: Profile) -> bool:
    g = pod.gpu
    if g is None or (g.kind == "mig" and (g.count != 1 or "+me" in (g.profile or ""))):
        return False
    for plugin, _ in profile.scorers:
        if isinstance(plugin, Binpack):
            continue
        if isinstance(plugin, FragmentationScore) and plugin.workload is None:
            continue
        if isinstance(plugin, LoadScore) and plugin.settings == LoadSettings():
            continue
        return False
    return True


@lru_cache(maxsize=256)
def _table(cpu: int, milli: int, count: int) -> FragTable:
    return FragTable(TargetWorkload((TaskShape(cpu, milli, count),), (1.0,)), ("any",))


def _chosen(idx: FleetIndex, r: npt.NDArray[np.intp], pod: PodRequest) -> Bools:
    """Per row, the GPU columns the placement takes (all False where the pod does not fit)."""
    g = pod.gpu
    assert g is not None
    pf = idx.plain_free[r]
    if g.kind == "whole":
        idle: Bools = np.asarray(pf == MILLI_PER_GPU)
        take = idle & (np.cumsum(idle, axis=1) <= g.count)
        return take & (idle.sum(axis=1) >= g.count)[:, None]
    fit: Bools = np.asarray((pf >= g.milli) & (idx.plain_mem[r] >= g.memory_mib))
    key = np.where(fit, pf, MILLI_PER_GPU + 1)
    best = np.argmin(key, axis=1)
    out = np.zeros(pf.shape, bool)
    out[np.arange(len(r)), best] = True
    fits: Bools = np.asarray(fit.any(axis=1))
    return out & fits[:, None]


def _binpack(
    idx: FleetIndex, r: npt.NDArray[np.intp], take: npt.NDArray[np.bool_], per: float
) -> Floats:
    n = idx.n_usable[r].astype(np.float64)
    after = idx.used_sum[r] + take.sum(axis=1) * per
    return np.where(n > 0, after / np.maximum(n, 1), 0.0)


def _fragmentation(
    idx: FleetIndex, r: npt.NDArray[np.intp], take: Bools, milli: int, count: int, pod_cpu: int
) -> Floats:
    """The plugin's own-shape FGD increase: free CPU before, free CPU minus the pod's after."""
    table = _table(pod_cpu, milli, count)
    fits = np.flatnonzero(take.any(axis=1))
    rows = r[fits]
    pf = idx.plain_free[rows].astype(np.int64)
    after = np.where(take[fits], pf - milli, pf)
    zeros = np.zeros(len(rows), np.intp)
    cpu = idx.cpu[rows]
    inc = table.node_frag(after, cpu - pod_cpu, zeros) - table.node_frag(pf, cpu, zeros)
    out = np.zeros(len(r))
    out[fits] = 1.0 / (1.0 + np.exp(np.minimum(inc / SCALE_MILLI, 50.0)))
    return out


def _load(
    idx: FleetIndex, r: npt.NDArray[np.intp], take: npt.NDArray[np.bool_], pod: PodRequest,
    now: float, settings: LoadSettings,
) -> Floats:  # fmt: skip
    any_load = idx.memo.get(("any-load",))
    if any_load is None:  # no GPU reports load at all: every node is neutral (cheap exit)
        any_load = idx.memo[("any-load",)] = np.asarray([np.isfinite(idx.load).any()], float)
    if not any_load[0]:
        return np.full(len(r), NEUTRAL)
    used = idx.used[r]
    usable = ~np.isnan(used)
    placed: Bools = np.asarray(take.any(axis=1))
    cols = np.where(placed[:, None], take, usable)
    val, at = idx.load[r], idx.load_at[r]
    fresh = cols & ~np.isnan(val) & (now - at <= settings.max_age_s)
    busy = np.where(fresh, np.fmax(used, val), used)
    n = cols.sum(axis=1)
    mean = np.where(n > 0, np.where(cols, busy, 0.0).sum(axis=1) / np.maximum(n, 1), 0.0)
    qos = pod.qos or settings.default_qos
    value = mean if qos == "batch" else 1.0 - mean
    value = np.where(fresh.any(axis=1), value, NEUTRAL)
    value = np.where(n > 0, value, 0.0)
    # The plugin's cheap exit: no GPU of the node has fresh load -> neutral, placement or not.
    anywhere = (~np.isnan(val) & (now - at <= settings.max_age_s)).any(axis=1)
    return np.where(anywhere, value, NEUTRAL)


MIG_ROW = np.dtype([("fits", bool), ("slices", float), ("inc", float), ("slow", bool)])


def _mig_rows(idx: FleetIndex, r: npt.NDArray[np.intp], pod: PodRequest) -> npt.NDArray[Any]:
    """Per row, for one MIG instance of the pod's profile: whether it fits, its share of the
    GPU's memory slices, the fragmentation increase (dynamic), and whether the row must go to
    the plugins (a +me instance changes the planner's tie-break; GFD-only devices have no GPU
    to charge)."""
    g = pod.gpu
    assert g is not None and g.profile is not None
    codes, masks = idx.mig_code[r], idx.mig_mask[r]
    n = len(r)
    fits = np.zeros(n, bool)
    slices = np.zeros(n)
    inc = np.zeros(n)
    if not g.dynamic:
        free = idx.static_free.get(g.profile)
        fits = free[r] >= 1 if free is not None else fits
    for sel, model, p in idx.mig_models(codes, g.profile):
        share = p.memory_slices / model.memory_slices
        if not g.dynamic:
            slices = np.where(sel.any(axis=1), share, slices)
            continue
        can = sel & can_place(np.where(sel, masks, 0), model, p, idx.mig_me[r])
        used = np.where(can, np.bitwise_count(np.maximum(masks, 0)).astype(np.int16), -1)
        col = np.argmax(used, axis=1)
        here = used[np.arange(n), col] >= 0
        mask = masks[np.arange(n), col]
        start = best_start(np.where(here, mask, 0), model, p).astype(np.int64)
        span = np.where(here, ((1 << p.memory_slices) - 1) << np.maximum(start, 0), 0)
        table = mig_frag_table(model)
        delta = table[np.where(here, mask | span, 0)] - table[np.where(here, mask, 0)]
        better = here & ~fits  # rows hold one model; the first that fits decides
        fits |= here
        slices = np.where(better, share, slices)
        inc = np.where(better, delta, inc)
    out = np.zeros(n, MIG_ROW)
    out["fits"], out["slices"], out["inc"] = fits, slices, inc
    out["slow"] = idx.mig_me[r].any(axis=1) | idx.pool[r]
    return out


def _mig_values(
    idx: FleetIndex, r: npt.NDArray[np.intp], pod: PodRequest, profile: Profile
) -> tuple[dict[str, Floats], Bools]:
    """Per scorer values for one MIG instance, and the rows left to the plugins."""
    g = pod.gpu
    assert g is not None
    key = ("mig", g.profile, g.dynamic)
    rows = idx.per_row(key, lambda rr: _mig_rows(idx, rr, pod))[r]
    fits, slices, inc = rows["fits"], rows["slices"], rows["inc"]
    out: dict[str, Floats] = {}
    nu = idx.n_usable[r].astype(np.float64)
    for plugin, _ in profile.scorers:
        if isinstance(plugin, Binpack):
            after = idx.used_sum[r] + np.where(fits, slices, 0.0)
            out[plugin.name] = np.where(nu > 0, after / np.maximum(nu, 1), 0.0)
        elif isinstance(plugin, FragmentationScore):
            score = 1.0 / (1.0 + np.exp(np.minimum(inc / SCALE_MILLI, 50.0)))
            out[plugin.name] = np.where(fits, score, 0.0)
        else:
            out[plugin.name] = np.full(len(r), NEUTRAL)  # MIG: live load says nothing here
    return out, rows["slow"]


def plugin_values(
    state: ClusterState, pod: PodRequest, names: Sequence[str], profile: Profile
) -> dict[str, Floats]:
    """Each scorer's raw value in [0, 1] per node (rows the index cannot judge are NaN)."""
    g = pod.gpu
    assert g is not None
    idx = state.fleet()
    r, known = idx.rows_of(names)
    out: dict[str, Floats] = {}
    if g.kind == "mig":
        values, slow = _mig_values(idx, r, pod, profile)
        keep = known & ~idx.slow[r] & ~slow
        return {k: np.where(keep, np.clip(v, 0.0, 1.0), np.nan) for k, v in values.items()}
    # Placement, Binpack and Fragmentation depend on each row's own columns only: memoised
    # per request shape and recomputed for the rows a change touched.
    shape = (g.kind, g.count, g.milli, g.memory_mib)
    every = idx.per_row(("take", *shape), lambda rr: _chosen(idx, rr, pod))
    take = every[r]
    milli = MILLI_PER_GPU if g.kind == "whole" else g.milli
    count = g.count if g.kind == "whole" else 1
    for plugin, _ in profile.scorers:
        if isinstance(plugin, Binpack):
            value = idx.per_row(
                ("binpack", *shape),
                lambda rr: _binpack(idx, rr, every[rr], milli / MILLI_PER_GPU),
            )[r]
        elif isinstance(plugin, FragmentationScore):
            value = idx.per_row(
                ("frag", *shape, pod.cpu_milli),
                lambda rr: _fragmentation(idx, rr, every[rr], milli, count, pod.cpu_milli),
            )[r]
        else:
            assert isinstance(plugin, LoadScore)
            value = _load(idx, r, take, pod, state.now, plugin.settings)
        clipped = np.clip(np.nan_to_num(value, nan=0.0), 0.0, 1.0)
        out[plugin.name] = np.where(known & ~idx.slow[r], clipped, np.nan)
    return out


def fast_scores(
    state: ClusterState, pod: PodRequest, names: Sequence[str], profile: Profile
) -> list[int]:
    """Integer 0..10 per node in `names` order, as `run_scores` computes them (unknown: 0);
    call when `applicable`."""
    values = plugin_values(state, pod, names, profile)
    acc = np.zeros(len(names))
    total = 0.0
    for plugin, weight in profile.scorers:
        if weight > 0:
            total += weight
            acc += weight * np.nan_to_num(values[plugin.name], nan=0.0)
    if total <= 0:
        return [0] * len(names)
    idx = state.fleet()
    r, known = idx.rows_of(names)
    ints = np.rint(MAX_SCORE * acc / total).astype(np.int64)
    ints[~known] = 0
    out: list[int] = ints.tolist()
    first = next(iter(values.values()), None)
    left = np.isnan(first) if first is not None else np.zeros(len(names), bool)
    slow = np.flatnonzero(left & known)
    if len(slow):
        redo = run_scores(state, pod, [names[int(i)] for i in slow], profile)
        for i in slow:
            out[int(i)] = redo[names[int(i)]]
    return out


__all__ = ["NO_GPU", "applicable", "fast_scores"]
