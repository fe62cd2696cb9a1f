"""Vectorised prioritize for whole-GPU and share pods: Binpack, Fragmentation and GpuLoad at once.

The chosen GPUs are found as `fit.choose` finds them (whole: the lowest-index idle GPUs; share:
the tightest GPU that fits, lowest index on ties), then each scorer's formula is applied to the
columns of the `FleetIndex`. MIG pods, `slow` rows and scorers not listed here go through the
plugins one by one. tests/scheduler/policy/test_fast.py checks the values against the plugins.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from packing.fgd import FragTable, TargetWorkload, TaskShape
from scheduler.policy.fleet_index import NO_GPU, FleetIndex
from scheduler.policy.framework import MAX_SCORE, Profile, run_scores
from scheduler.policy.model import MILLI_PER_GPU, ClusterState, PodRequest
from scheduler.policy.plugins.binpack import Binpack
from scheduler.policy.plugins.fragmentation import SCALE_MILLI, FragmentationScore
from scheduler.policy.plugins.load import NEUTRAL, LoadScore, LoadSettings

Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]


def applicable(pod: PodRequest, profile: Profile) -> bool:
    if pod.gpu is None or pod.gpu.kind == "mig":
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


@lru_cache(maxsize=64)
def _table(milli: int, count: int) -> FragTable:
    return FragTable(TargetWorkload((TaskShape(0, milli, count),), (1.0,)), ("any",))


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
    idx: FleetIndex, r: npt.NDArray[np.intp], take: Bools, milli: int, count: int
) -> Floats:
    table = _table(milli, count)
    memo = idx.memo.get(("frag", milli, count))
    if memo is None:  # every row's fragmentation before placing: once per index and shape
        every = idx.plain_free.astype(np.int64)
        memo = idx.memo[("frag", milli, count)] = table.node_frag(
            every, idx.cpu, np.zeros(len(every), np.intp)
        )
    fits = np.flatnonzero(take.any(axis=1))
    rows = r[fits]
    pf = idx.plain_free[rows].astype(np.int64)
    after = np.where(take[fits], pf - milli, pf)
    inc = table.node_frag(after, idx.cpu[rows], np.zeros(len(rows), np.intp)) - memo[rows]
    out = np.zeros(len(r))
    out[fits] = 1.0 / (1.0 + np.exp(np.minimum(inc / SCALE_MILLI, 50.0)))
    return out


def _load(
    idx: FleetIndex, r: npt.NDArray[np.intp], take: npt.NDArray[np.bool_], pod: PodRequest,
    now: float, settings: LoadSettings,
) -> Floats:  # fmt: skip
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
    return np.where(n > 0, value, 0.0)


def plugin_values(
    state: ClusterState, pod: PodRequest, names: Sequence[str], profile: Profile
) -> dict[str, Floats]:
    """Each scorer's raw value in [0, 1] per node (rows the index cannot judge are NaN)."""
    g = pod.gpu
    assert g is not None
    idx = state.fleet()
    r, known = idx.rows_of(names)
    take = _chosen(idx, r, pod)
    milli = MILLI_PER_GPU if g.kind == "whole" else g.milli
    out: dict[str, Floats] = {}
    for plugin, _ in profile.scorers:
        if isinstance(plugin, Binpack):
            value = _binpack(idx, r, take, milli / MILLI_PER_GPU)
        elif isinstance(plugin, FragmentationScore):
            value = _fragmentation(idx, r, take, milli, g.count if g.kind == "whole" else 1)
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
    slow = np.flatnonzero(idx.slow[r] & known)
    if len(slow):
        redo = run_scores(state, pod, [names[int(i)] for i in slow], profile)
        for i in slow:
            out[int(i)] = redo[names[int(i)]]
    return out


__all__ = ["NO_GPU", "applicable", "fast_scores"]
