"""Column view of every node's free GPU capacity, for vectorised filtering and scoring.

One row per node, one column per GPU slot (padded). Built once from `NodeCapacity` views and
then updated row by row: a new snapshot passes the previous index and the names of the nodes
whose inventory or allocations changed, so a bind costs one row, not the fleet.

Rows that the batch path cannot judge exactly are flagged `slow` and go through the plugins
one by one: a GPU with a health reason under the default thresholds (the health filter names
it; its batch method sends rows hot under its own limit there too), several GPU models on one
node, a MIG GPU of a model the catalogue lacks, or grants that could not be charged. A GPU
without MIG of a model the catalogue lacks (the Alibaba trace's T4, P100, G2, ...) is an
ordinary row: shares and whole GPUs need no MIG geometry, and every scorer judges it by milli.

Filling one row from a view is `fleet_rows.RowFill` (a base of `FleetIndex`); the memo
records, the interned row states, `distinct` and `RowNames` live in `fleet_memo`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat
from math import prod
from operator import attrgetter, is_, itemgetter
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from packing.catalogue import GpuModel, MigProfile, get_model
from packing.errors import PackingError
from scheduler.policy.capacity import NodeCapacity
from scheduler.policy.fleet_memo import (
    MIN_STATES,
    STATES_PER_ROW,
    RowNames,
    _RowMemo,
    _StateTable,
    distinct,
)
from scheduler.policy.fleet_rows import NO_GPU, RowFill

__all__ = ["NO_GPU", "STATE_FIELDS", "FleetIndex", "RowNames", "distinct"]

MAX_LOG_ROWS = 1 << 16  # changed rows an index lineage logs before its memos start over
REFRESH_LOG_ROWS = 4096  # changed rows an index refreshed in place logs before folding them
MAX_ROW_MEMOS = 64  # request shapes remembered per index (each a few arrays of one value a row)
_INVENTORY = ("inventory",)  # the `memo` entry of `FleetIndex.inventory`
T = TypeVar("T")


@dataclass
class FleetIndex(RowFill):
    names: list[str]
    row: dict[str, int]
    alive: npt.NDArray[np.bool_]
    slow: npt.NDArray[np.bool_]
    product: npt.NDArray[np.int16]  # code (in `keys`) of the node's GPU model; "" when none
    plain_free: npt.NDArray[np.int16]  # free milli of usable non-MIG GPUs, NO_GPU otherwise
    plain_mem: npt.NDArray[np.int32]  # their free memory (MiB)
    plain_size: npt.NDArray[np.int32]  # their total memory (MiB), NO_GPU otherwise
    mig_mask: npt.NDArray[np.int32]  # occupied memory slices of usable MIG GPUs, NO_GPU else
    mig_code: npt.NDArray[np.int16]  # code (in `keys`) of each usable MIG GPU's model, NO_GPU
    keys: list[str]  # model names behind the codes
    mig_me: npt.NDArray[np.bool_]  # a +me instance exists on the GPU
    static_free: dict[str, npt.NDArray[np.int16]]  # free existing instances per profile
    static_total: dict[str, npt.NDArray[np.int16]]  # existing instances per profile
    pool_free: dict[str, npt.NDArray[np.int16]]  # the part of static_free known only by count
    used_sum: npt.NDArray[np.float64]  # sum of used fractions over usable GPUs (binpack)
    n_usable: npt.NDArray[np.int16]
    cpu: npt.NDArray[np.int64]  # free CPU milli, `NodeCapacity.cpu_free` (FGD's CPU term)
    pool: npt.NDArray[np.bool_]  # static MIG devices known only by count (GFD) on the node
    hot: npt.NDArray[np.float64]  # the node's highest GPU temperature (C; -inf: none reported)
    _rows_memo: dict[tuple[str, ...], tuple[npt.NDArray[np.intp], npt.NDArray[np.bool_]]]
    memo: dict[object, Any]  # derived values (this index only; `refresh` drops them)
    # Derived per-row arrays that survive `updated()`: only the rows that changed are redone.
    row_memo: dict[object, _RowMemo]
    # Rows changed by each `updated()` in this index's lineage, oldest first; `log_len` is this
    # index's own length (a list shared with the child that appended to it last).
    log: list[int]
    log_len: int
    used: npt.NDArray[np.float64]  # per GPU used fraction (NaN: faulted or padding)
    load: npt.NDArray[np.float64]  # per GPU live load 0..1 (NaN: none reported)
    load_at: npt.NDArray[np.float64]  # when that load was observed (NaN: unknown)
    _states: _StateTable  # interned row states (`state_ids`), shared with derived indexes
    # Values of one immutable Node or Gpu (`node_products`, health reasons), by (kind, id), the
    # object kept so its id is not reused: `refresh` refills rows whose node and GPUs are
    # unchanged, bind after bind (`_of`). Shared with derived indexes.
    _products: dict[tuple[str, int], tuple[Any, Any]]

    def rows_of(self, names: Sequence[str]) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.bool_]]:
        """(row per name, known and alive) -- memoised for the last few name lists, since
        kube-scheduler sends the same list to filter and then to prioritize. `RowNames` of
        this index's row map carry their rows: nothing is looked up."""
        if type(names) is RowNames and names.row_map is self.row:
            return names.rows, self.alive.take(names.rows)
        key = tuple(names)
        hit = self._rows_memo.get(key)
        if hit is None:
            try:  # every name known (the common case): one C-level lookup of them all
                got = itemgetter(*key)(self.row) if len(key) > 1 else [self.row[n] for n in key]
                r = np.array(got, np.intp)
                hit = (r, self.alive[r])
            except KeyError:
                rows = np.fromiter(map(self.row.get, key, repeat(-1, len(key))), np.intp, len(key))
                known = rows >= 0
                r = np.where(known, rows, 0)
                hit = (r, np.asarray(known & self.alive[r]))
            if len(self._rows_memo) >= 4:
                self._rows_memo = {}  # replaced, not mutated: safe against concurrent readers
            self._rows_memo[key] = hit
        return hit

    def forget(self, stale: Callable[[object], bool]) -> None:
        """Drop the per-row memos whose key is `stale` (one no caller will ask for again, e.g.
        counts against a demand mix since replaced: kept, they pile up to `MAX_ROW_MEMOS`
        arrays of one value a row, ~8 MB at 5,000 nodes over a soak)."""
        if any(stale(k) for k in self.row_memo):
            keep = {k: v for k, v in self.row_memo.items() if not stale(k)}
            self.row_memo = keep  # replaced, not mutated: safe against concurrent readers

    def per_row(
        self, key: object, compute: Callable[[npt.NDArray[np.intp]], npt.NDArray[Any]]
    ) -> npt.NDArray[Any]:
        """`compute(rows)` for every row, memoised by `key`; after `updated()` only the rows
        that changed (or were added) are computed again. `compute` must depend on the rows'
        own columns only (never on other rows, the clock or the caller's pod identity)."""
        hit = self.row_memo.get(key)
        n = len(self.alive)
        if hit is not None:  # (the checks inlined: this runs several times per pod)
            values = hit.values
            if values.ndim > 1 and values.shape[1] != self.plain_free.shape[1]:
                hit = None  # GPU columns grew: recompute from scratch
            elif hit.since == self.log_len and not hit.pending and len(values) == n:
                return values  # current, every row valid
        if hit is None:
            values = compute(np.arange(n, dtype=np.intp))
            if len(self.row_memo) >= MAX_ROW_MEMOS:
                self.row_memo = {}  # replaced, not mutated: safe against concurrent readers
            self.row_memo[key] = _RowMemo(values, np.ones(n, bool), self.log_len)
            return values
        if len(hit.values) != n or hit.shared:
            # First use since `updated()`: a private copy, with the rows changed since stale.
            if len(hit.values) == n:  # (the common update: no row added; one copy each)
                values, valid = hit.values.copy(), hit.valid.copy()
            else:  # rows added: theirs start stale
                values = np.zeros((n, *hit.values.shape[1:]), hit.values.dtype)
                values[: len(hit.values)] = hit.values
                valid = np.zeros(n, bool)
                valid[: len(hit.valid)] = hit.valid
            valid[self.log[hit.since : self.log_len]] = False
            # `pending` until its stale rows are filled: a concurrent reader (the extender
            # serves offloaded verbs and the keep pass on other threads) redoes them itself
            # (same values) instead of reading unfilled rows.
            hit = self.row_memo[key] = _RowMemo(values, valid, self.log_len, pending=True)
        elif hit.since != self.log_len:
            # This index's own memo, behind its log (`refresh` changed rows in place): redo
            # the rows logged since, in place, no copy.
            changed = self.log[hit.since : self.log_len]
            if not hit.pending:  # every other row is valid: only these are stale
                if len(changed) == 1:  # (a bind: its one row, written by basic indexing)
                    hit.values[changed[0]] = compute(np.array(changed, np.intp))[0]
                else:
                    rows = np.array(sorted(set(changed)), np.intp)
                    hit.values[rows] = compute(rows)
                hit.since = self.log_len  # after the rows: a reader never sees them unfilled
                return hit.values
            hit.valid[changed] = False
            hit.since = self.log_len
        stale = np.flatnonzero(~hit.valid)
        if len(stale):
            hit.values[stale] = compute(stale.astype(np.intp))
            hit.valid[stale] = True
        hit.pending = False
        return hit.values

    def state_ids(self) -> npt.NDArray[np.int64]:
        """Per row, the id of its state: two rows with the same id hold byte-identical values
        in every row column (`STATE_FIELDS`) and the same per-profile MIG counts, so anything
        computed from a row's own columns and per-pod constants is the same for both (the
        framework scores one row per state). Memoised per row (`per_row`): a bind redoes one."""
        table = self._states
        if len(table.ids) > STATES_PER_ROW * len(self.alive) + MIN_STATES:
            # replaced, not cleared: older indexes keep theirs; this one drops its old ids
            table = self._states = _StateTable()
            self.forget(lambda k: isinstance(k, tuple) and k[:1] == ("state-id",))
        return self.per_row(
            ("state-id", table.serial, self.slots), lambda rr: self._state_keys(rr, table)
        )

    def _state_keys(self, rr: npt.NDArray[np.intp], table: _StateTable) -> npt.NDArray[np.int64]:
        views = self._key_views(table)
        cols = [getattr(self, f) for f in STATE_FIELDS] if views is None else []
        counts = self._count_tables()
        out = np.empty(len(rr), np.int64)
        mig_counts = any(counts)
        for i, r in enumerate(rr.tolist()):
            if views is not None:  # (the same bytes as the slices below, with no numpy call)
                key = b"".join([v[r * w : r * w + w] for v, w in views])
            else:
                key = b"".join([c[r : r + 1].tobytes() for c in cols])
            if mig_counts:
                mig = [sorted((p, int(a[r])) for p, a in t.items() if a[r]) for t in counts]
                if any(mig):  # a longer key: never equal to a row without MIG counts
                    key += repr(mig).encode()
            out[i] = table.intern(key)
        return out

    def _key_views(self, table: _StateTable) -> list[tuple[memoryview, int]] | None:
        """Per `STATE_FIELDS` column, its bytes as one flat view and a row's width in bytes (a
        row's key is then one slice of each), or None when a column is not C-contiguous. Kept
        on `table` while the columns are the same arrays: `refresh` writes rows in place,
        a derived index has arrays of its own (and makes its views on its first key)."""
        fields, getter, arrays, views = table.views
        if getter is None or fields is not STATE_FIELDS:  # (a test may change the fields)
            fields = STATE_FIELDS
            getter = attrgetter(*fields) if len(fields) > 1 else _one_field_getter(fields)
        now: tuple[npt.NDArray[Any], ...] = getter(self)
        if len(arrays) == len(now) and all(map(is_, arrays, now)):
            return views
        if not all(c.flags.c_contiguous and c.ndim for c in now):
            return None
        try:
            views = [(c.data.cast("B"), c.dtype.itemsize * prod(c.shape[1:])) for c in now]
        except (TypeError, ValueError):  # a dtype without a buffer format: the slices' path
            return None
        table.views = (fields, getter, now, views)  # replaced whole: readers see one or the other
        return views

    def _count_tables(self) -> tuple[dict[str, npt.NDArray[np.int16]], ...]:
        """The per-profile MIG counts that belong to a row's state key (beside `STATE_FIELDS`)."""
        return (self.static_free, self.static_total, self.pool_free)

    def mig_models(
        self, codes: npt.NDArray[np.int16], profile: str
    ) -> Iterator[tuple[npt.NDArray[np.bool_], GpuModel, MigProfile]]:
        """Each catalogued GPU model among `codes` (rows of `mig_code`) that offers `profile`:
        the cells holding it, the model and its profile."""
        for c, key in enumerate(self.keys):
            sel = codes == c
            if not key or not sel.any():
                continue
            try:
                model = get_model(key)
                found = model.profile(profile)
            except PackingError:
                continue
            yield sel, model, found

    @classmethod
    def empty(cls, rows: int, slots: int) -> FleetIndex:
        return cls(
            names=[],
            row={},
            alive=np.zeros(rows, bool),
            slow=np.zeros(rows, bool),
            product=np.zeros(rows, np.int16),
            plain_free=np.full((rows, slots), NO_GPU, np.int16),
            plain_mem=np.zeros((rows, slots), np.int32),
            plain_size=np.full((rows, slots), NO_GPU, np.int32),
            mig_mask=np.full((rows, slots), NO_GPU, np.int32),
            mig_code=np.full((rows, slots), NO_GPU, np.int16),
            keys=[""],
            mig_me=np.zeros((rows, slots), bool),
            static_free={},
            static_total={},
            pool_free={},
            used_sum=np.zeros(rows),
            n_usable=np.zeros(rows, np.int16),
            cpu=np.zeros(rows, np.int64),
            pool=np.zeros(rows, bool),
            hot=np.full(rows, -np.inf),
            used=np.full((rows, slots), np.nan),
            load=np.full((rows, slots), np.nan),
            load_at=np.full((rows, slots), np.nan),
            _states=_StateTable(),
            _products={},
            _rows_memo={},
            memo={},
            row_memo={},
            log=[],
            log_len=0,
        )

    @property
    def slots(self) -> int:
        return int(self.plain_free.shape[1])

    @classmethod
    def build(
        cls, caps: Iterable[NodeCapacity], shape: tuple[int, int] | None = None
    ) -> FleetIndex:
        """`shape`: (rows, GPU slots) when the caller knows them, so that `caps` (a generator)
        is consumed one view at a time instead of all views living at once (~25 MB of heap at
        5,000 nodes that CPython then cannot hand back; benchmarks/bench_memory.py)."""
        if shape is None:
            caps = list(caps)
            shape = (len(caps), max((len(c.gpus) for c in caps), default=1) or 1)
        idx = cls.empty(*shape)
        for c in caps:
            idx._fill(idx._add(c.node.name), c)
        return idx

    def updated(self, caps: Iterable[NodeCapacity], gone: Iterable[str]) -> FleetIndex:
        """A copy with these nodes' rows recomputed and `gone` nodes dropped."""
        caps = list(caps)
        need = max((len(c.gpus) for c in caps), default=0)
        new_rows = sum(1 for c in caps if c.node.name not in self.row)
        out = self._copy(len(self.names) + new_rows, max(self.slots, need))
        changed: list[int] = []
        for name in gone:
            r = out.row.get(name)
            if r is not None:
                out.alive[r] = False
                changed.append(r)
        for c in caps:
            r = out.row.get(c.node.name)
            if r is None:
                r = out._add(c.node.name)
            out._clear(r)
            out._fill(r, c)
            changed.append(r)
        out._carry_memos(self, changed)
        if not new_rows and np.array_equal(out.alive, self.alive):
            out._rows_memo = dict(self._rows_memo)  # same rows, same liveness: lookups hold
        return out

    def refresh(
        self, caps: Iterable[NodeCapacity], shares: Mapping[str, Sequence[int]] | None = None
    ) -> None:
        """Recompute these known nodes' rows in this index itself: for an owner whose earlier
        views are live anyway (the simulator's cluster), so no copy per bind. The rows go on
        the change log, so per-row memos redo them on their next use (`per_row`); a long log
        is folded into the memos and started over, so it stays short. `shares`: per node, the
        GPU positions whose shares alone changed since the row was last filled (the owner
        vouches: the node's view then was this one less plain grants on those GPUs,
        `NodeCapacity.with_allocation`): only those cells and the sums are rewritten."""
        changed: list[int] = []
        same_inventory = True
        for c in caps:
            r = self.row[c.node.name]
            if len(c.gpus) > self.slots:
                raise ValueError(f"node {c.node.name}: more GPUs than the index's columns")
            positions = None if shares is None else shares.get(c.node.name)
            if positions is not None:
                self._fill_shares(r, c, positions)
                changed.append(r)
                continue
            before = self._inventory_of(r)
            self._clear(r)
            self._fill(r, c, memo=True)
            same_inventory = same_inventory and self._inventory_of(r) == before
            changed.append(r)
        if not changed:
            return
        if len(self.log) != self.log_len:  # a derived index extended the shared list
            self.log = self.log[: self.log_len]
        self.log.extend(changed)
        self.log_len = len(self.log)
        kept = self.memo.get(_INVENTORY) if same_inventory else None
        self.memo = {} if kept is None else {_INVENTORY: kept}
        # Per-row memos are left as they are: `per_row` finds them behind the log and redoes
        # the rows logged since (in place when this index alone holds the memo).
        if self.log_len > REFRESH_LOG_ROWS:
            n = len(self.alive)
            memos: dict[object, _RowMemo] = {}
            for key, hit in self.row_memo.items():
                if len(hit.valid) == n and not hit.shared:
                    hit.valid[self.log[hit.since : self.log_len]] = False
                    hit.since, hit.pending = 0, True
                    memos[key] = hit
            self.row_memo, self.log, self.log_len = memos, [], 0

    def inventory(self, key: object, compute: Callable[[FleetIndex], T]) -> T:
        """`compute(self)` memoised under `key` while no row's inventory (`_inventory_of`:
        alive, GPU model, usable GPUs) changes: `refresh` keeps these across binds, which
        change allocations only. `compute` must read those columns only."""
        memo: dict[object, Any] | None = self.memo.get(_INVENTORY)
        if memo is None:
            memo = self.memo[_INVENTORY] = {}
        if key not in memo:
            memo[key] = compute(self)
        got: T = memo[key]
        return got

    def _inventory_of(self, r: int) -> tuple[bool, int, int]:
        return bool(self.alive[r]), int(self.product[r]), int(self.n_usable[r])

    def _carry_memos(self, old: FleetIndex, changed: list[int]) -> None:
        """Share the old memos (no array is copied per bind): each is brought up to date on
        its first use here (`per_row`), redoing only the rows logged since it was current."""
        if old.log_len > MAX_LOG_ROWS:  # start a fresh log; the old memos start over too
            self.log, self.log_len = list(changed), len(changed)
            return
        if len(old.log) == old.log_len:  # `old` is the tip of its log: extend it in place
            self.log = old.log
        else:  # a sibling extended it first: branch off a copy
            self.log = old.log[: old.log_len]
        self.log.extend(changed)
        self.log_len = len(self.log)
        for hit in old.row_memo.values():
            hit.shared = True  # `old.refresh` must not change it under this index
        self.row_memo = dict(old.row_memo)

    # ---- internals -----------------------------------------------------------------------
    def _copy(self, rows: int, slots: int) -> FleetIndex:
        if rows == len(self.names) and slots == self.slots:
            return self._same_shape_copy()
        out = FleetIndex.empty(rows, slots)
        n, s = len(self.names), self.slots
        out.names, out.row = list(self.names), dict(self.row)
        out.keys = list(self.keys)
        out._states, out._products = self._states, self._products
        for f in ("alive", "slow", "used_sum", "n_usable", "product", "cpu", "pool", "hot"):
            getattr(out, f)[:n] = getattr(self, f)
        for f in ("plain_free", "plain_mem", "plain_size", "mig_mask", "mig_me", "mig_code",
                  "used", "load", "load_at"):  # fmt: skip
            getattr(out, f)[:n, :s] = getattr(self, f)
        for d_out, d_in in ((out.static_free, self.static_free),
                            (out.static_total, self.static_total),
                            (out.pool_free, self.pool_free)):  # fmt: skip
            for k, v in d_in.items():
                d_out[k] = np.zeros(rows, np.int16)
                d_out[k][:n] = v
        return out

    def _same_shape_copy(self) -> FleetIndex:
        """A copy with the same rows and GPU columns (the common update: binds on known
        nodes); the name list and row map are shared, since only `_add` changes them."""
        out = copy.copy(self)  # shallow: every field below that can change is replaced
        for f in _ROW_ARRAYS:
            setattr(out, f, getattr(self, f).copy())
        for f in ("static_free", "static_total", "pool_free"):
            setattr(out, f, {k: v.copy() for k, v in getattr(self, f).items()})
        out.keys = list(self.keys)
        out._rows_memo, out.memo, out.row_memo, out.log, out.log_len = {}, {}, {}, [], 0
        return out

    def _add(self, name: str) -> int:
        r = len(self.names)
        self.names.append(name)
        self.row[name] = r
        return r


def _one_field_getter(fields: tuple[str, ...]) -> Callable[[object], tuple[Any, ...]]:
    """`attrgetter(*fields)`, always a tuple (attrgetter of one name answers the value)."""
    return lambda obj: tuple(getattr(obj, f) for f in fields)


_ROW_ARRAYS = ("alive", "slow", "used_sum", "n_usable", "product", "cpu", "pool", "hot",
               "plain_free", "plain_mem", "plain_size", "mig_mask", "mig_me", "mig_code",
               "used", "load", "load_at")  # fmt: skip
# The columns of a row's state key (`FleetIndex.state_ids`): every row array (the per-profile
# MIG counts are added apart). A column added to the index belongs here too.
STATE_FIELDS: tuple[str, ...] = _ROW_ARRAYS
