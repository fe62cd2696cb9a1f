"""Recent-placement cache: a pod placed seconds ago counts as load until metrics show it.

Metrics lag 30-90 s (exporter interval + scrape interval), so without this a burst of pods all
land on the GPU that looked idle (the herd effect of volcano-sh/volcano#5313). As in Trimaran's
PodAssignEventHandler, each placement adds its share of a GPU to that GPU's utilisation until a
reading observed at least `lag_s` after the placement arrives, or `ttl_s` passes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class _Entry:
    uid: str
    node: str
    index: int
    fraction: float  # of one GPU: 1.0 whole, milli / 1000 for a share
    at: float


class RecentPlacements:
    def __init__(self, lag_s: float = 90.0, ttl_s: float = 300.0) -> None:
        self.lag_s, self.ttl_s = lag_s, ttl_s
        self._entries: dict[tuple[str, int, str], _Entry] = {}
        self._lock = threading.Lock()
        self.version = 0  # bumped on every change (callers cache on it)

    def record(self, uid: str, node: str, index: int, fraction: float, at: float) -> None:
        if not 0.0 < fraction <= 1.0:
            raise ValueError(f"placement fraction must be in (0, 1], got {fraction!r}")
        with self._lock:
            self._entries[(node, index, uid)] = _Entry(uid, node, index, fraction, at)
            self.version += 1

    def forget(self, uid: str) -> None:
        with self._lock:
            for key in [k for k in self._entries if k[2] == uid]:
                del self._entries[key]
                self.version += 1

    def extra_pct(self, node: str, index: int, observed_at: float, now: float) -> float:
        """Utilisation (percent) the reading taken at `observed_at` cannot include yet."""
        with self._lock:
            self._expire(now)
            return 100.0 * sum(
                e.fraction
                for (n, i, _), e in self._entries.items()
                if n == node and i == index and observed_at < e.at + self.lag_s
            )

    def nodes(self, now: float) -> set[str]:
        """Nodes that have live entries at `now`."""
        with self._lock:
            self._expire(now)
            return {n for n, _, _ in self._entries}

    def _expire(self, now: float) -> None:
        for key in [k for k, e in self._entries.items() if now - e.at >= self.ttl_s]:
            del self._entries[key]
            self.version += 1

    def __len__(self) -> int:
        return len(self._entries)
