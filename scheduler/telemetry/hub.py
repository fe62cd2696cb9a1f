"""Merge the sources into per-GPU health and load, and fold them into a `ClusterState`.

`refresh(now)` polls every source; a failing source keeps its last readings, which simply age.
`gpu_telemetry(now)` merges, per (node, gpu index), the readings no older than their source's
`max_age_s`: the freshest load wins; health is the union (any source's fault counts). XIDs stay
within `xid_window_s` of when they were seen even if their source has since gone quiet.
`overlay(state)` returns the state with `Gpu.health` / `Gpu.load` replaced, adding the load of
pods placed too recently for any reading to include (`RecentPlacements`).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Sequence

from scheduler.policy.model import MILLI_PER_GPU, ClusterState, Gpu, GpuHealth, GpuLoad
from scheduler.telemetry.logonce import LogOnce
from scheduler.telemetry.readings import GpuReading
from scheduler.telemetry.recent import RecentPlacements
from scheduler.telemetry.settings import TelemetrySettings
from scheduler.telemetry.sources import Source
from scheduler.telemetry.staleness import Freshness, SourceError, SourceStatus

log = logging.getLogger(__name__)
Key = tuple[str, int]


class TelemetryHub:
    def __init__(self, sources: Sequence[Source], settings: TelemetrySettings | None = None,
                 recent: RecentPlacements | None = None) -> None:
        self.settings = settings or TelemetrySettings()
        self.sources = list(sources)
        self.recent = recent or RecentPlacements(self.settings.lag_s, self.settings.recent_ttl_s)
        self.freshness = Freshness()
        self._readings: dict[str, list[GpuReading]] = {}
        self._seen_allocs: set[str] | None = None
        self._lock = threading.Lock()
        self._once = LogOnce(log)

    def refresh(self, now: float) -> None:
        for src in self.sources:
            try:
                got = src.fetch(now)
            except SourceError as exc:
                self.freshness.failed(src.name, src.max_age_s, str(exc))
                continue
            self.freshness.ok(src.name, src.max_age_s, now)
            with self._lock:
                self._readings[src.name] = got

    def statuses(self) -> list[SourceStatus]:
        return self.freshness.all()

    def gpu_telemetry(self, now: float) -> dict[Key, tuple[GpuHealth, GpuLoad | None]]:
        s = self.settings
        ages = {src.name: src.max_age_s for src in self.sources}
        fresh: dict[Key, list[GpuReading]] = {}
        xids: dict[Key, set[int]] = {}
        with self._lock:
            items = [(n, r) for n, rs in self._readings.items() for r in rs]
        for name, r in items:
            key = (r.node, r.index)
            for x in r.xid_recent:
                if now - x.at <= s.xid_window_s and x.xid not in s.ignored_xids:
                    xids.setdefault(key, set()).add(x.xid)
            if now - r.observed_at <= ages.get(name, s.max_age_s):
                fresh.setdefault(key, []).append(r)
        out: dict[Key, tuple[GpuHealth, GpuLoad | None]] = {}
        for key in set(fresh) | set(xids):
            rs = sorted(fresh.get(key, []), key=lambda r: r.observed_at, reverse=True)
            temp = next((r.temperature_c for r in rs if r.temperature_c is not None), None)
            health = GpuHealth(
                xid_recent=tuple(sorted(xids.get(key, ()))),
                ecc_uncorrectable=max((r.ecc_uncorrectable or 0 for r in rs), default=0),
                remap_failure=any(bool(r.remap_failure) for r in rs),
                temperature_c=temp,
                over_temperature=temp is not None and temp >= s.max_temperature_c,
            )
            out[key] = (health, _load(rs))
        return out

    def overlay(self, state: ClusterState) -> ClusterState:
        """`state` with telemetry folded into each known GPU (same object if nothing applies)."""
        self._note_new_placements(state)
        tele = self.gpu_telemetry(state.now)
        if not tele:
            return state
        nodes = dict(state.nodes)
        changed = False
        for name, node in state.nodes.items():
            gpus = tuple(self._fold(name, g, tele.get((name, g.index)), state.now)
                         for g in node.gpus)
            if gpus != node.gpus:
                nodes[name] = dataclasses.replace(node, gpus=gpus)
                changed = True
        if not changed:
            return state
        # A new snapshot, not dataclasses.replace: the memoised capacity views describe old GPUs.
        return ClusterState(nodes=nodes, allocations=state.allocations, gangs=state.gangs,
                            now=state.now)

    def _fold(self, node: str, g: Gpu, t: tuple[GpuHealth, GpuLoad | None] | None,
              now: float) -> Gpu:
        if t is None:
            return g
        health, load = t
        old = g.health
        merged = GpuHealth(  # never forget a fault the inventory (annotation) already carries
            xid_recent=tuple(sorted(set(old.xid_recent) | set(health.xid_recent))),
            ecc_uncorrectable=max(old.ecc_uncorrectable, health.ecc_uncorrectable),
            remap_failure=old.remap_failure or health.remap_failure,
            temperature_c=health.temperature_c if health.temperature_c is not None
            else old.temperature_c,
            over_temperature=old.over_temperature or health.over_temperature,
        )
        if load is not None and load.observed_at is not None:
            extra = self.recent.extra_pct(node, g.index, load.observed_at, now)
            if extra and load.utilization_pct is not None:
                load = dataclasses.replace(
                    load, utilization_pct=min(100.0, load.utilization_pct + extra))
        return dataclasses.replace(g, health=merged, load=load or g.load)

    def _note_new_placements(self, state: ClusterState) -> None:
        """Allocations seen for the first time are recent placements (not on the first call:
        after a restart the existing pods are already in the metrics)."""
        current = set(state.allocations)
        first = self._seen_allocs is None
        seen = self._seen_allocs or set()
        for uid in current - seen:
            if first:
                break
            alloc = state.allocations[uid]
            for grant in alloc.placement.gpus:
                if grant.profile is not None or grant.index < 0:
                    continue  # MIG slices are exclusive; unknown GPU cannot be charged
                frac = 1.0 if grant.milli is None else grant.milli / MILLI_PER_GPU
                if 0.0 < frac <= 1.0:
                    self.recent.record(uid, alloc.placement.node, grant.index, frac, state.now)
        for uid in seen - current:
            self.recent.forget(uid)
        self._seen_allocs = current


def _load(rs: list[GpuReading]) -> GpuLoad | None:
    """The freshest reading that says anything about load."""
    for r in rs:
        if r.utilization_pct is not None or r.memory_used_mib is not None:
            return GpuLoad(utilization_pct=r.utilization_pct,
                           memory_used_mib=None if r.memory_used_mib is None
                           else int(r.memory_used_mib),
                           power_w=r.power_w, observed_at=r.observed_at)
    return None
