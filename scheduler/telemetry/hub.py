"""Keep the sources' latest readings and fold them into each `ClusterState` the extender uses.

`refresh(now)` polls every source; a failing source keeps its last readings, which simply age
out (see `merge`). `overlay(state)` returns the state with `Gpu.health` / `Gpu.load` replaced,
adding the load of pods placed too recently for any reading to include (`RecentPlacements`).
Both the merged telemetry and the folded nodes are cached (until new readings, ageing, or a
change of nodes / allocations / recent placements), so a filter or prioritize call on a large
cluster costs a lookup, not a refold of every GPU.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from scheduler.policy.model import MILLI_PER_GPU, ClusterState, Gpu, GpuHealth, GpuLoad, Node
from scheduler.telemetry.merge import Telemetry, merge
from scheduler.telemetry.readings import GpuReading
from scheduler.telemetry.recent import RecentPlacements
from scheduler.telemetry.settings import TelemetrySettings
from scheduler.telemetry.sources import Source
from scheduler.telemetry.staleness import Freshness, SourceError, SourceStatus

RECENT_BUCKET_S = 5.0  # recent-placement extras are re-evaluated at this granularity


class TelemetryHub:
    def __init__(self, sources: Sequence[Source], settings: TelemetrySettings | None = None,
                 recent: RecentPlacements | None = None) -> None:
        self.settings = settings or TelemetrySettings()
        self.sources = list(sources)
        self.recent = recent or RecentPlacements(self.settings.lag_s, self.settings.recent_ttl_s)
        self.freshness = Freshness()
        self._readings: dict[str, list[GpuReading]] = {}
        self._gen = 0  # bumped whenever readings change
        self._merged: tuple[int, float, float, Telemetry] | None = None  # gen, from, until, map
        self._folded: tuple[tuple[Any, ...], ClusterState, tuple[Any, ...]] | None = None
        self._seen_allocs: set[str] | None = None
        self._lock = threading.Lock()

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
                self._gen += 1

    def statuses(self) -> list[SourceStatus]:
        return self.freshness.all()

    def gpu_telemetry(self, now: float) -> Telemetry:
        with self._lock:
            m = self._merged
            if m is not None and m[0] == self._gen and m[1] <= now < m[2]:
                return m[3]
            gen = self._gen
            items = [(n, r) for n, rs in self._readings.items() for r in rs]
        ages = {src.name: src.max_age_s for src in self.sources}
        tele, until = merge(items, ages, self.settings, now)
        with self._lock:
            self._merged = (gen, now, until, tele)
        return tele

    def overlay(self, state: ClusterState) -> ClusterState:
        """`state` with telemetry folded into each known GPU (same object if nothing applies)."""
        self._note_new_placements(state)
        tele = self.gpu_telemetry(state.now)
        bucket = int(state.now // RECENT_BUCKET_S) if len(self.recent) else 0
        key = (id(state.nodes), id(state.allocations), id(tele), self.recent.version, bucket)
        with self._lock:
            hit = self._folded if self._folded is not None and self._folded[0] == key else None
        if hit is not None:
            base = hit[1]
            if base is state:
                return state
            # Same nodes and allocations as the cached fold: share its memoised views too.
            return ClusterState(nodes=base.nodes, allocations=state.allocations,
                                gangs=state.gangs, now=state.now, _by_node=base._by_node,
                                _capacity=base._capacity, _fleet=base._fleet)
        out = self._fold_state(state, tele) if tele else state
        with self._lock:  # hold the keyed objects so their ids cannot be reused meanwhile
            self._folded = (key, out, (state.nodes, state.allocations, tele))
        return out

    def _fold_state(self, state: ClusterState, tele: Telemetry) -> ClusterState:
        nodes: dict[str, Node] = dict(state.nodes)
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
        if old != GpuHealth():  # never forget a fault the inventory (annotation) carries
            health = GpuHealth(
                xid_recent=tuple(sorted(set(old.xid_recent) | set(health.xid_recent))),
                ecc_uncorrectable=max(old.ecc_uncorrectable, health.ecc_uncorrectable),
                remap_failure=old.remap_failure or health.remap_failure,
                temperature_c=health.temperature_c if health.temperature_c is not None
                else old.temperature_c,
                over_temperature=old.over_temperature or health.over_temperature,
            )
        if load is not None and load.observed_at is not None and len(self.recent):
            extra = self.recent.extra_pct(node, g.index, load.observed_at, now)
            if extra and load.utilization_pct is not None:
                load = dataclasses.replace(
                    load, utilization_pct=min(100.0, load.utilization_pct + extra))
        return dataclasses.replace(g, health=health, load=load or g.load)

    def _note_new_placements(self, state: ClusterState) -> None:
        """Allocations seen for the first time are recent placements (not on the first call:
        after a restart the existing pods are already in the metrics)."""
        allocs: Mapping[str, Any] = state.allocations
        with self._lock:
            first = self._seen_allocs is None
            seen = self._seen_allocs or set()
            if not first and len(seen) == len(allocs) and all(u in seen for u in allocs):
                return
            current = set(allocs)
            self._seen_allocs = current
        for uid in (current - seen) if not first else ():
            alloc = allocs[uid]
            for grant in alloc.placement.gpus:
                if grant.profile is not None or grant.index < 0:
                    continue  # MIG slices are exclusive; an unknown GPU cannot be charged
                frac = 1.0 if grant.milli is None else grant.milli / MILLI_PER_GPU
                if 0.0 < frac <= 1.0:
                    self.recent.record(uid, alloc.placement.node, grant.index, frac, state.now)
        for uid in seen - current:
            self.recent.forget(uid)
