"""Filling one fleet-index row from a node's free-capacity view: `RowFill`, a base of
`FleetIndex` (the columns it writes are the index's; see `fleet_index`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from packing.errors import PackingError
from packing.mig import occupancy
from scheduler.policy.capacity import GpuCapacity, NodeCapacity, gpu_used_fraction
from scheduler.policy.rules import HealthThresholds, fresh_load, gpu_health_reasons, node_products

NO_GPU = -1
_DEFAULT_HEALTH = HealthThresholds()
T = TypeVar("T")


class RowFill:
    """Row `r` of the index's columns from a `NodeCapacity` view (`_fill`), cleared first
    (`_clear`); model names coded in `keys` (`code`)."""

    # The index's columns and memos this writes (declared by `FleetIndex`, a dataclass).
    alive: npt.NDArray[np.bool_]
    slow: npt.NDArray[np.bool_]
    product: npt.NDArray[np.int16]
    plain_free: npt.NDArray[np.int16]
    plain_mem: npt.NDArray[np.int32]
    plain_size: npt.NDArray[np.int32]
    mig_mask: npt.NDArray[np.int32]
    mig_code: npt.NDArray[np.int16]
    keys: list[str]
    mig_me: npt.NDArray[np.bool_]
    static_free: dict[str, npt.NDArray[np.int16]]
    static_total: dict[str, npt.NDArray[np.int16]]
    pool_free: dict[str, npt.NDArray[np.int16]]
    used_sum: npt.NDArray[np.float64]
    n_usable: npt.NDArray[np.int16]
    cpu: npt.NDArray[np.int64]
    pool: npt.NDArray[np.bool_]
    hot: npt.NDArray[np.float64]
    used: npt.NDArray[np.float64]
    load: npt.NDArray[np.float64]
    load_at: npt.NDArray[np.float64]
    _products: dict[tuple[str, int], tuple[Any, Any]]

    def code(self, key: str) -> int:
        try:
            return self.keys.index(key)
        except ValueError:
            self.keys.append(key)
            return len(self.keys) - 1

    def _clear(self, r: int) -> None:
        self.plain_free[r] = NO_GPU
        self.plain_mem[r] = 0
        self.plain_size[r] = NO_GPU
        self.mig_mask[r] = NO_GPU
        self.mig_me[r] = False
        self.mig_code[r] = NO_GPU
        self.used[r] = np.nan
        self.load[r] = np.nan
        self.load_at[r] = np.nan
        for arr in (*self.static_free.values(), *self.static_total.values(),
                    *self.pool_free.values()):  # fmt: skip
            arr[r] = 0

    def _of(self, kind: str, obj: Any, compute: Callable[[Any], T]) -> T:
        """`compute(obj)` for an immutable object, memoised by its id while it lives here."""
        hit = self._products.get((kind, id(obj)))
        if hit is not None and hit[0] is obj:
            got: T = hit[1]
            return got
        value = compute(obj)
        if len(self._products) > 16 * len(self.alive) + 64:
            self._products = {}  # replaced, not mutated: safe against concurrent readers
        self._products[(kind, id(obj))] = (obj, value)
        return value

    def _count(self, table: dict[str, npt.NDArray[np.int16]], profile: str, r: int) -> None:
        arr = table.get(profile)
        if arr is None:
            arr = table[profile] = np.zeros(len(self.alive), np.int16)
        arr[r] += 1

    def _fill(self, r: int, cap: NodeCapacity, memo: bool = False) -> None:
        """Row `r` from `cap`. `memo`: remember per-object values (`_of`) for the next refill
        (`refresh`, which refills the same nodes bind after bind)."""
        node = cap.node
        self.alive[r] = True
        of = self._of if memo else _direct
        products: frozenset[str] = of("products", node, node_products)
        self.product[r] = self.code(next(iter(products)) if len(products) == 1 else "")
        self.cpu[r] = cap.cpu_free
        self.pool[r] = bool(node.mig_pool)
        temps = [g.health.temperature_c for g in node.gpus if g.health.temperature_c is not None]
        self.hot[r] = max(temps, default=-np.inf)
        slow = len(products) > 1 or bool(cap.overbooked)
        used = 0.0
        usable = 0
        for j, g in enumerate(cap.gpus):
            if of("unhealthy", g.gpu, _unhealthy) or g.faulted:
                slow = True
            if g.faulted:
                continue
            usable += 1
            frac = gpu_used_fraction(g)
            used += frac
            self.used[r, j] = frac
            ld = g.gpu.load
            if ld is not None and ld.observed_at is not None:
                value = fresh_load(g.gpu, ld.observed_at, float("inf"))
                if value is not None:
                    self.load[r, j] = value
                    self.load_at[r, j] = ld.observed_at
            if not g.gpu.mig_enabled:
                self.plain_free[r, j] = g.free_milli
                self.plain_mem[r, j] = g.free_memory_mib
                self.plain_size[r, j] = g.gpu.memory_mib
                continue
            if g.model is None:
                slow = True
                continue
            try:
                self.mig_mask[r, j] = occupancy(g.model, g.occupied)
                names = {i: g.model.profile(i.profile).name for i in g.occupied}
            except PackingError:
                slow = True
                continue
            self.mig_code[r, j] = self.code(g.model.key)
            self.mig_me[r, j] = any(g.model.profile(n).media_extension for n in names.values())
            for inst in g.free_static:
                self._count(self.static_free, names.get(inst, inst.profile), r)
            for s in g.gpu.instances:
                self._count(self.static_total, _canon(g, s.profile), r)
        for profile, n in cap.pool_free.items():
            for _ in range(n):
                self._count(self.static_free, profile, r)
                self._count(self.pool_free, profile, r)
        for profile, n in node.mig_pool.items():
            for _ in range(n):
                self._count(self.static_total, profile, r)
        self.slow[r] = slow
        self.used_sum[r] = used
        self.n_usable[r] = usable

    def _fill_shares(self, r: int, cap: NodeCapacity, positions: Sequence[int]) -> None:
        """Row `r`, filled from a view that differed from `cap` only in the shares on the
        non-MIG GPUs at `positions` and in free CPU, brought to `_fill(r, cap)`: those GPUs'
        cells, the free CPU and the used sum (summed again in `_fill`'s order, so the same
        float). Nothing else a plain grant changes (health, models, MIG counts, load)."""
        for j in positions:
            g = cap.gpus[j]
            if g.faulted:  # `_fill` leaves a faulted GPU's cells empty
                continue
            self.used[r, j] = gpu_used_fraction(g)
            self.plain_free[r, j] = g.free_milli
            self.plain_mem[r, j] = g.free_memory_mib
        self.cpu[r] = cap.cpu_free
        used = 0.0
        for frac in self.used[r].tolist():  # `_fill`'s fractions in its order; NaN: no GPU
            if frac == frac:
                used += frac
        self.used_sum[r] = used


def _direct(kind: str, obj: Any, compute: Callable[[Any], T]) -> T:
    return compute(obj)


def _unhealthy(gpu: Any) -> bool:
    return bool(gpu_health_reasons(gpu, _DEFAULT_HEALTH))


def _canon(g: GpuCapacity, name: str) -> str:
    if g.model is None:
        return name
    try:
        return g.model.profile(name).name
    except PackingError:
        return name
