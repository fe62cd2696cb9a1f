"""Keep the sources' latest readings and fold them into each `ClusterState` the extender uses.

`refresh(now)` polls every source; a failing source keeps its last readings, which simply age
out (see `merge`). `overlay(state)` returns the state with `Gpu.health` / `Gpu.load` replaced,
adding the load of pods placed too recently for any reading to include (`RecentPlacements`).
Both the merged telemetry and the folded nodes are cached (until new readings, ageing, or a
change of nodes or recent placements); allocations changing between requests keeps the fold and
the capacity views of untouched nodes, so a filter or prioritize call on a large cluster costs a
lookup, not a refold of every GPU.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from scheduler.policy.model import MILLI_PER_GPU, ClusterState, Node
from scheduler.telemetry.hub.fold import fold_nodes, rebuild_state, with_recent
from scheduler.telemetry.hub.merge import Telemetry, merge
from scheduler.telemetry.hub.recent import RecentPlacements
from scheduler.telemetry.hub.settings import TelemetrySettings
from scheduler.telemetry.hub.sources import Source
from scheduler.telemetry.hub.staleness import Freshness, SourceError, SourceStatus
from scheduler.telemetry.readings import GpuReading

RECENT_BUCKET_S = 5.0  # recent-placement extras are re-evaluated at this granularity


class TelemetryHub:
    def __init__(
        self,
        sources: Sequence[Source],
        settings: TelemetrySettings | None = None,
        recent: RecentPlacements | None = None,
    ) -> None:
        self.settings = settings or TelemetrySettings()
        self.sources = list(sources)
        self.recent = recent or RecentPlacements(self.settings.lag_s, self.settings.recent_ttl_s)
        self.freshness = Freshness()
        self._readings: dict[str, list[GpuReading]] = {}
        self._gen = 0  # bumped whenever readings change
        self._merged: tuple[int, float, float, Telemetry] | None = None  # gen, from, until, map
        self._base: tuple[tuple[int, int], Mapping[str, Node], tuple[Any, ...]] | None = None
        self._last: tuple[tuple[Any, ...], ClusterState] | None = None
        self._seen_allocs: set[str] | None = None
        self._seen_obj: Mapping[str, Any] | None = None  # the allocations last diffed
        self._lock = threading.Lock()

    def refresh(self, now: float) -> None:
        for src in self.sources:
            try:
                got = src.fetch(now)
            except SourceError as exc:
                self.freshness.failed(src.name, src.max_age_s, str(exc))
                continue
            except Exception as exc:  # noqa: BLE001 -- a source's defect must not end the poller
                # (round 9: int('²') in a label; round 10: a deep JSON answer). Down, one line.
                why = " ".join(f"internal error: {type(exc).__name__}: {exc}".split())[:300]
                self.freshness.failed(src.name, src.max_age_s, why)
                continue
            self.freshness.ok(src.name, src.max_age_s, now)
            with self._lock:
                self._readings[src.name] = got
                self._gen += 1

    def statuses(self) -> list[SourceStatus]:
        return self.freshness.all()

    def gauges(self, now: float) -> dict[str, dict[str, float]]:
        """Per source: answered within its max age (1/0) and seconds since it last answered."""
        up: dict[str, float] = {}
        age: dict[str, float] = {}
        for st in self.statuses():
            up[st.name] = 1.0 if st.fresh(now) and st.last_error is None else 0.0
            if st.last_ok_at is not None:
                age[st.name] = max(0.0, now - st.last_ok_at)
        return {"tessera_telemetry_source_up": up, "tessera_telemetry_source_age_seconds": age}

    def __call__(self, state: ClusterState) -> ClusterState:
        """The hub is the Extender's `telemetry` hook: calling it is `overlay`."""
        return self.overlay(state)

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
        base_key = (id(state.nodes), id(tele))
        with self._lock:
            base = self._base if self._base is not None and self._base[0] == base_key else None
        if base is None:
            base = (
                base_key,
                fold_nodes(state.nodes, tele, self.settings.max_temperature_c),
                (state.nodes, tele),
            )
        busy = self.recent.nodes(state.now)
        key = (base_key, self.recent.version, int(state.now // RECENT_BUCKET_S) if busy else 0)
        with self._lock:
            prev = self._last
        if prev is not None and prev[0] == key:
            nodes = prev[1].nodes
        else:
            nodes = (
                with_recent(
                    base[1], busy, lambda n, i, at: self.recent.extra_pct(n, i, at, state.now)
                )
                if busy
                else base[1]
            )
        if nodes is state.nodes:  # nothing to fold: keep the caller's snapshot and its memos
            out = state
        else:
            out = rebuild_state(prev[1] if prev is not None else None, nodes, state)
        with self._lock:  # holding the keyed objects keeps their ids from being reused
            self._base, self._last = base, (key, out)
        return out

    def _note_new_placements(self, state: ClusterState) -> None:
        """Allocations seen for the first time are recent placements (not on the first call:
        after a restart the existing pods are already in the metrics).

        Runs on every request, so it must not walk the allocations: the store hands out the
        same mapping object until something changes (an identity check then suffices), and a
        change is diffed with set operations on the keys (C loops, no per-pod Python)."""
        allocs: Mapping[str, Any] = state.allocations
        with self._lock:
            if allocs is self._seen_obj:
                return
            first = self._seen_allocs is None
            seen = self._seen_allocs or set()
            current = set(allocs)
            self._seen_allocs, self._seen_obj = current, allocs  # held: its id is not reused
            if current == seen:
                return
            added = () if first else current - seen
            gone = seen - current
        for uid in added:
            alloc = allocs[uid]
            for grant in alloc.placement.gpus:
                if grant.profile is not None or grant.index < 0:
                    continue  # MIG slices are exclusive; an unknown GPU cannot be charged
                frac = 1.0 if grant.milli is None else grant.milli / MILLI_PER_GPU
                if 0.0 < frac <= 1.0:
                    self.recent.record(uid, alloc.placement.node, grant.index, frac, state.now)
        for uid in gone:
            self.recent.forget(uid)
