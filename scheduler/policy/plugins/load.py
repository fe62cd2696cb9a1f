"""Score: use live GPU load where it is fresh; fall back to allocation where it is not.

Latency-sensitive pods (`tessera.io/qos: latency`, the default) prefer headroom on the GPUs they
would get; batch pods prefer GPUs already busy, leaving idle ones for latency pods. Load is
`max(utilisation, memory used / total)` of each GPU the pod's placement touches.
Stale (older than `max_age_s`) or missing load counts as unknown, never as idle: such a GPU is
judged by the ledger alone, and a node with nothing fresh scores NEUTRAL for every pod, so the
allocation scorers (Binpack) alone decide. MIG requests never use live load: slices are
exclusive whatever their utilisation.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from packing.jit import kernel
from scheduler.policy import batch
from scheduler.policy.capacity import gpu_used_fraction
from scheduler.policy.fleet_index import FleetIndex
from scheduler.policy.interfaces import Bools, CycleState, Floats, Rows, cycle_for
from scheduler.policy.model import ClusterState, Node, PodRequest
from scheduler.policy.rules import LoadSettings, fresh_load, is_fresh

__all__ = ["NEUTRAL", "LoadScore", "LoadSettings", "fresh_load"]

NEUTRAL = 0.5


class LoadScore:
    name = "GpuLoad"
    state_only = True  # score_rows reads only the row's index columns (ScorePlugin)

    def __init__(self, settings: LoadSettings | None = None) -> None:
        self.settings = settings or LoadSettings()

    def score(
        self, state: ClusterState, pod: PodRequest, node: Node, cycle: CycleState | None = None
    ) -> float:
        if pod.gpu is not None and pod.gpu.kind == "mig":
            return NEUTRAL  # MIG slices are exclusive: live load says nothing about them
        if all(fresh_load(g, state.now, self.settings.max_age_s) is None for g in node.gpus):
            return NEUTRAL  # cheap exit before the placement search (simulator, stale metrics)
        cap = state.capacity(node.name)
        placement = cycle_for(state, pod, cycle).placement(node)
        grants = placement.gpus if placement is not None else ()
        touched = {g.index for g in grants}
        gpus = [g for g in cap.usable_gpus if g.index in touched] or cap.usable_gpus
        if not gpus:
            return 0.0
        mig = pod.gpu is not None and pod.gpu.kind == "mig"
        live = [
            None if mig else fresh_load(g.gpu, state.now, self.settings.max_age_s) for g in gpus
        ]
        if all(x is None for x in live):
            return NEUTRAL  # nothing fresh: leave the ranking to the allocation scorers
        # Per GPU: live load when fresh (never below what the ledger holds), else the ledger.
        busy = [
            max(gpu_used_fraction(g), x) if x is not None else gpu_used_fraction(g)
            for g, x in zip(gpus, live, strict=True)
        ]
        mean = sum(busy) / len(busy)
        qos = pod.qos or self.settings.default_qos
        return mean if qos == "batch" else 1.0 - mean

    def score_rows(self, cycle: CycleState) -> Floats | None:
        """The same value from the index's load columns, with this scorer's settings."""
        pod = cycle.pod
        g = pod.gpu
        if g is not None and not batch.scorable(pod):
            return None
        if g is not None and g.kind == "mig":
            return np.where(batch.mig_rows(cycle)["slow"], np.nan, NEUTRAL)
        idx, r = cycle.index, cycle.rows
        neutral: Floats = np.empty(len(r))
        if _neutral_unless_read(idx.load_at, r, neutral):  # (no telemetry: a fill)
            return neutral
        # The per-node cheap exit: no GPU of the node has fresh load -> neutral. Only rows with a
        # fresh reading somewhere are computed (none at all while telemetry is stale).
        newest = idx.per_row(("load-newest",), lambda rr: _newest(idx, rr))[r]
        # A row with no reading at all (-inf) is never live, even at an infinite `max_age_s`
        # (inf - -inf <= inf: the per-node path's exit says NEUTRAL there; this said 0.0 for
        # a node without usable GPUs before round 12).
        live = np.flatnonzero(
            (newest > -np.inf) & (cycle.state.now - newest <= self.settings.max_age_s)
        )
        out: Floats = np.full(len(r), NEUTRAL)
        if len(live):
            if g is None:  # a CPU-only pod touches no GPU: every usable GPU counts
                take = np.zeros((len(r), idx.slots), bool)
            else:
                _, take = batch.placement_columns(cycle)
            out[live] = self._fresh_rows(cycle, r[live], take[live])
        return out

    def _fresh_rows(self, cycle: CycleState, r: Rows, take: Bools) -> Floats:
        """The per-node value on rows where some GPU reports a fresh load."""
        idx, pod = cycle.index, cycle.pod
        used = idx.used[r]
        usable = ~np.isnan(used)
        placed: Bools = np.asarray(take.any(axis=1))
        cols = np.where(placed[:, None], take, usable)  # the GPUs the placement touches
        val, at = idx.load[r], idx.load_at[r]
        fresh_any = ~np.isnan(val) & is_fresh(cycle.state.now - at, self.settings.max_age_s)
        fresh = cols & fresh_any
        busy = np.where(fresh, np.fmax(used, val), used)
        n = cols.sum(axis=1)
        mean = np.where(n > 0, np.where(cols, busy, 0.0).sum(axis=1) / np.maximum(n, 1), 0.0)
        qos = pod.qos or self.settings.default_qos
        value = mean if qos == "batch" else 1.0 - mean
        value = np.where(fresh.any(axis=1), value, NEUTRAL)
        return np.asarray(np.where(n > 0, value, 0.0))


def _newest(idx: FleetIndex, r: Rows) -> Floats:
    """Per row, when its most recent load reading was observed (-inf: none)."""
    at = idx.load_at[r]
    return np.asarray(np.where(np.isnan(at), -np.inf, at).max(axis=1, initial=-np.inf))


def _neutral_sample() -> tuple[Any, ...]:
    return np.zeros((3, 2)), np.zeros(2, np.intp), np.zeros(2)


@kernel(_neutral_sample)
def _neutral_unless_read(load_at, r, out):
    """True, with `out` all NEUTRAL, when no row of `r` has a reading's time at all (a fleet
    without telemetry, the fill): each one's newest reading is then -inf, never live, so every
    candidate is NEUTRAL whatever other rows report; else False (one call on the candidates,
    before any per-row memo)."""
    for i in range(len(r)):
        for j in range(load_at.shape[1]):
            if load_at[r[i], j] == load_at[r[i], j]:  # (NaN: no reading)
                return False
    out[:] = NEUTRAL
    return True
