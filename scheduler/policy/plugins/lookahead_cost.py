"""The look-ahead tie-break's arithmetic (`lookahead.LookAhead` applies it): each typical
shape's best FGD increase on a node state (`best_increase`, memoised per state in `StateMemo`,
its count moves and table positions in `lookahead_tables`), the two-step costs of the tied states
(`two_step_costs`), and the lowest two per shape (`top_two`, `BlockTopTwo`)."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import numpy.typing as npt

from packing.fgd import FragTable, TargetWorkload
from packing.fractional import NO_GPU
from scheduler.policy.interfaces import Floats, Rows
from scheduler.policy.model import MILLI_PER_GPU
from scheduler.policy.plugins import lookahead_kernels
from scheduler.policy.plugins.lookahead_tables import Moves, TableCells

_NONE = 1 << 30  # "no GPU fits" in the tightest-GPU search


class MixShapes:
    """The mix's typical shapes as arrays (per shape: weight, CPU, milli per GPU, GPUs taken,
    whether it is a share; per model code: which shapes may use it)."""

    def __init__(self, workload: TargetWorkload, keys: tuple[str, ...]) -> None:
        s = workload.shapes
        self.weight = np.array(workload.weights, np.float64)
        self.cpu = np.array([x.cpu_milli for x in s], np.int64)
        self.milli = np.array([x.gpu_milli for x in s], np.int64)
        self.count = np.array([x.num_gpu for x in s], np.int64)
        self.share = (self.count == 1) & (self.milli > 0) & (self.milli < MILLI_PER_GPU)
        # A CPU-only shape runs on any model; a GPU shape only on the models it accepts.
        self.allowed = np.array(
            [[x.num_gpu == 0 or x.allows(k) for x in s] for k in keys], bool
        ).reshape(len(keys), len(s))
        self.lost = (self.milli * self.count).astype(np.float64)
        # GPU milli each shape takes from a node's total (k GPUs x m milli)
        self.taken = np.where(self.share, 1, self.count) * self.milli
        # (thresholds array, its bytes, their `Moves`): the array held, so `is` is safe
        self._moves: tuple[npt.NDArray[np.int64], bytes, Moves | None] | None = None
        self._cells: tuple[FragTable, TableCells] | None = None

    def cells(self, table: FragTable) -> TableCells:
        """`TableCells` of `table` for these shapes (the last table's kept: one per mix)."""
        held = self._cells
        if held is None or held[0] is not table:
            held = self._cells = (table, TableCells(table, self))
        return held[1]

    def moves(self, th: npt.NDArray[np.int64]) -> Moves | None:
        """The `Moves` of these shapes over thresholds `th` (the table's: one per mix), or
        None when a share's milli is not among them."""
        held = self._moves
        if held is not None and held[0] is th:  # the same table's thresholds (held: alive)
            return held[2]
        key = th.tobytes()
        if held is None or held[1] != key:
            ok = bool(np.isin(self.milli[self.share], th).all())
            held = (th, key, Moves(th, self) if ok else None)
        else:
            held = (th, key, held[2])
        self._moves = held
        return held[2]


MAX_MEMO_STATES = 1 << 15  # states a `StateMemo` keeps (~14 MB at 35 shapes), then restarts


class StateMemo:
    """`best_increase` memoised per node state, for one table and one set of shapes (one mix,
    one model list, one GPU-column count). The key of a state is its free milli per GPU, its
    model and the interval of `breaks` its free CPU falls in: free CPU enters `best_increase`
    only through comparisons with a shape's CPU, the table's CPU grid, and the grid plus a
    shape's CPU (the CPU left after the shape), so the states of one key get the same answer,
    bit for bit."""

    def __init__(self, table: FragTable, sh: MixShapes) -> None:
        self.table, self.sh = table, sh
        self.breaks = sh.cells(table).breaks
        # (key -> its row of the store, the store: increase per shape..., fragmentation),
        # replaced whole when the store grows or restarts, so a reader (the extender serves
        # verbs on several threads) reads rows of the store its keys came with; rows are
        # written before their keys; `size` rows used; new states added under `_lock`.
        self.held: tuple[dict[bytes, int], Floats] = ({}, np.empty((64, len(sh.weight) + 1)))
        self.size = 0
        self._lock = threading.Lock()
        self._void = np.dtype((np.void, 8))  # a key's bytes as one item: `increases`
        # (a fleet's per-row record, `top_two` of its increases): `LookAhead._best`; one tuple,
        # replaced whole, so a reader never pairs one index's record with another's blocks.
        self.top: tuple[npt.NDArray[Any], BlockTopTwo] | None = None

    def increases(
        self, free: npt.NDArray[Any], cpu: npt.NDArray[Any], model: npt.NDArray[Any]
    ) -> tuple[Floats, Floats]:
        """`best_increase(table, sh, free, cpu, model)`; only the states not seen before go
        through it, in one call. The answers are rows of one store, gathered by one `take`
        (a copy: the caller may write into it)."""
        out = self.answers(free, cpu, model)
        return out[:, :-1], out[:, -1]

    def answers(
        self, free: npt.NDArray[Any], cpu: npt.NDArray[Any], model: npt.NDArray[Any]
    ) -> Floats:
        """`increases` as one (K, T + 1) array (a copy): each state's increases, then its
        fragmentation (a caller that splits them later, or not at all, takes no slices)."""
        pf = np.asarray(free, np.int64)
        cpu = np.asarray(cpu, np.int64)
        model = np.asarray(model, np.int64)
        return self.of_keys(lookahead_kernels.state_keys(pf, cpu, model, self.breaks))

    def of_keys(self, key: npt.NDArray[np.int64]) -> Floats:
        """`answers` of the states of `key` (`lookahead_kernels`' state keys against
        `breaks`: one C-contiguous int64 row each)."""
        # Each row's bytes as one `bytes` object (a C-contiguous row viewed as one void item).
        width = key.shape[1] * key.itemsize
        if self._void.itemsize != width:  # (the dtype made once per key width)
            self._void = np.dtype((np.void, width))
        void = key.view(self._void)
        names: list[bytes] = void.ravel().tolist()  # type: ignore[assignment]
        index, store = self.held
        got: list[int | None] = list(map(index.get, names))
        if None in got:
            with self._lock:
                index, store = self._add(names, key)
            got = list(map(index.__getitem__, names))
        out: Floats = store.take(np.array(got, np.intp), axis=0)  # (no None left)
        return out

    @property
    def rows(self) -> dict[bytes, int]:
        """The states held: key -> row of the store."""
        return self.held[0]

    def _add(
        self, names: list[bytes], key: npt.NDArray[np.int64]
    ) -> tuple[dict[bytes, int], Floats]:
        """`best_increase` of the states of `names` not held (under `_lock`), written to the
        store, then their keys; the (keys, store) a reader of all `names` reads."""
        index, store = self.held
        todo: dict[bytes, int] = {}
        for i, name in enumerate(names):
            if name not in index:
                todo.setdefault(name, i)
        if not todo:  # (added by another thread meanwhile)
            return index, store
        start = self.size
        if len(index) + len(todo) > MAX_MEMO_STATES:  # restart: every state of this call
            index, store, start = {}, np.empty_like(store), 0
            for i, name in enumerate(names):
                todo.setdefault(name, i)
        at = np.array(list(todo.values()), np.intp)
        got = _of_keys(self.table, self.sh, key, at)
        n = len(at)
        if start + n > len(store):  # a new, larger store (and keys: the old pair stays whole)
            grown = np.empty((max(2 * len(store), start + n), store.shape[1]))
            grown[:start] = store[:start]
            index, store = dict(index), grown
        store[start : start + n] = got
        for j, name in enumerate(todo):
            index[name] = start + j
        self.held, self.size = (index, store), start + n
        return index, store


def best_increase(
    table: FragTable, sh: MixShapes, free: npt.NDArray[Any], cpu: npt.NDArray[Any],
    model: npt.NDArray[np.intp],
) -> tuple[Floats, Floats]:  # fmt: skip
    """((K, T) the FGD increase of placing one pod of each typical shape on each of K node
    states, +inf where it does not fit; (K,) each state's fragmentation). `free`: (K, G) free
    milli per GPU (NO_GPU for none), `cpu`: free CPU milli, `model`: the table's model index.

    Each shape takes k GPUs holding v free milli each, m milli from each: a share the tightest
    GPU with v >= m (k = 1), n whole GPUs idle ones (k = n, v = m = 1000), a CPU-only pod none
    (k = 0). FGD's per-threshold counts then move as in `FragTable.frag_after_share`: a
    threshold in (v - m, v] loses the k GPUs and their k x v milli, one at or below v - m keeps
    them with k x m milli less. Those moves depend on (shape, v) and the thresholds only, not on
    the mix's weights: they are read from `Moves` tables (kept per GPU geometry across mixes),
    and the state's own fragmentation and every shape's after it go through one lookup in the
    table, in one kernel (`lookahead_kernels.increases`): the same values, bit for bit, as
    `_best_increase_direct`."""
    pf, cpu = np.asarray(free, np.int64), np.asarray(cpu, np.int64)
    breaks = sh.cells(table).breaks
    keys = lookahead_kernels.state_keys(pf, cpu, np.asarray(model, np.int64), breaks)
    got = _of_keys(table, sh, keys, np.arange(len(keys)))
    return got[:, :-1], got[:, -1]


def _of_keys(
    table: FragTable, sh: MixShapes, keys: npt.NDArray[np.int64], at: npt.NDArray[np.intp]
) -> Floats:
    """`best_increase` of the states of `keys[at]` as one (K, T + 1) array (each state's
    increases, then its fragmentation): the `increases` kernel, or the direct way where the
    tables do not reach (free milli above 1000, more GPU columns than the table's, a share's
    milli not a threshold). The direct way gets each key's free CPU as its interval's lowest
    value (`TableCells.low`): every free CPU of an interval gets the same answer."""
    moves = sh.moves(table.milli)
    cells = sh.cells(table)
    gpus = keys.shape[1] - 2
    if moves is not None and gpus <= table.max_gpus:
        ws = cells.with_state
        assert ws is not None and cells.cnt_cells is not None  # (`moves` exist)
        out, ok = lookahead_kernels.increases(
            keys, at, table.milli, ws.columns, ws.cpu_fits, ws.allowed, cells.flat,
            cells.offset, cells.cnt_cells, moves.big, cells.column, cells.per_count,
            cells.per_model, ws.counts_fit,
        )  # fmt: skip
        if ok:
            return out
    k = keys.take(at, axis=0)
    cpu = cells.low.take(k[:, gpus])
    inc, frag = _best_increase_direct(table, sh, k[:, :gpus], cpu, k[:, gpus + 1].astype(np.intp))
    got = np.empty((len(k), inc.shape[1] + 1))
    got[:, :-1], got[:, -1] = inc, frag
    return got


def _best_increase_direct(
    table: FragTable, sh: MixShapes, free: npt.NDArray[Any], cpu: npt.NDArray[Any],
    model: npt.NDArray[np.intp],
) -> tuple[Floats, Floats]:  # fmt: skip
    """`best_increase` computed from the states alone (no `Moves`): for free milli above 1000
    per GPU (a malformed row) or a share whose milli is not a threshold, and as the tests'
    reference."""
    pf = np.asarray(free, np.int64)
    cpu = np.asarray(cpu, np.int64)
    total = np.where(pf == NO_GPU, 0, pf).sum(axis=1)
    cnt, big = table.counts(pf)
    frag0 = table.frag_from_counts(total, cnt, big, cpu, model)
    m = sh.milli[None, :]
    fits_gpu = pf[:, :, None] >= sh.milli[None, None, :]
    tight = np.where(fits_gpu, pf[:, :, None], _NONE).min(axis=1)  # (K, T)
    v = np.where(sh.share[None, :], tight, MILLI_PER_GPU)
    k = np.where(sh.share, 1, sh.count)[None, :]
    idle = (pf == MILLI_PER_GPU).sum(axis=1)
    fit = np.where(sh.share[None, :], tight < _NONE, idle[:, None] >= sh.count[None, :])
    fit &= (cpu[:, None] >= sh.cpu[None, :]) & sh.allowed[model]
    v = np.where(fit, v, MILLI_PER_GPU)  # keep masked states in range
    after = v - m
    th = table.milli
    was, now = v[..., None] >= th, after[..., None] >= th  # (K, T, M)
    c2 = cnt[:, None, :] - k[..., None] * (was & ~now)
    b2 = big[:, None, :] - k[..., None] * (np.where(was, v[..., None], 0)
                                           - np.where(now, after[..., None], 0))  # fmt: skip
    f = _frag(table, total[:, None] - k * m, c2, b2, cpu[:, None] - sh.cpu[None, :], model)
    out: Floats = np.where(fit, f - frag0[:, None], np.inf)
    return out, frag0


def _frag(
    table: FragTable, total: npt.NDArray[Any], cnt: npt.NDArray[Any], big: npt.NDArray[Any],
    cpu: npt.NDArray[Any], model: npt.NDArray[np.intp],
) -> Floats:  # fmt: skip
    """`FragTable.frag_from_counts` over (K, T) states (counts (K, T, M)) -> (K, T). States
    that do not fit may carry counts or CPU out of range; they are clipped here and masked by
    the caller."""
    k, t = total.shape
    m = cnt.shape[-1]
    if m == 0 or k == 0:  # no GPU shape in the mix: nothing free can be used, all fragments
        return np.asarray(total, np.float64)
    got = table.frag_from_counts(
        total.reshape(-1),
        np.clip(cnt, 0, table.max_gpus).reshape(-1, m),
        big.reshape(-1, m),
        np.maximum(cpu, 0).reshape(-1),
        np.broadcast_to(model[:, None], (k, t)).reshape(-1),
    )
    out: Floats = got.reshape(k, t)
    return out


def two_step_costs(
    sh: MixShapes, rows: Rows, frag_now: Floats, best: Floats, inv: npt.NDArray[np.intp],
    after: Floats, frag_after: Floats,
    top: tuple[Floats, npt.NDArray[np.intp], Floats] | None = None,
) -> Floats:  # fmt: skip
    """`cost(n)` of the module docstring for the fleet rows `rows`: `frag_now` their
    fragmentation now, `best` (every row, every shape) `best_increase` now; `after` and
    `frag_after` the same for each distinct state after the pod, `inv` the state of each row;
    `top`: `top_two(best)` when the caller has it. The best place for a shape elsewhere is the
    lowest over all rows, or the second lowest where the lowest is this row itself
    (`lookahead_kernels.two_step`); the weighted sum over the shapes is numpy's product."""
    first_best, low, second = top_two(best) if top is None else top
    inc, step = lookahead_kernels.two_step(
        np.asarray(rows, np.intp), frag_now, np.asarray(inv, np.intp), after, frag_after,
        first_best, low, second, sh.lost,
    )  # fmt: skip
    out: Floats = inc + step @ sh.weight
    return out


def top_two(best: Floats) -> tuple[Floats, npt.NDArray[np.intp], Floats]:
    """Per column of `best`: (the lowest value, its first row, the lowest over the other rows;
    +inf for one row): `BlockTopTwo`'s block kernel over one block of every row."""
    t = best.shape[1]
    first, low, second = np.empty((1, t)), np.empty((1, t), np.intp), np.empty((1, t))
    lookahead_kernels.redo_blocks(best, max(1, len(best)), _FIRST_ROW, first, low, second)
    return first[0], low[0], second[0]


_FIRST_ROW = np.zeros(1, np.intp)


class BlockTopTwo:
    """`top_two(values)` kept per block of `BLOCK` rows, so that changing a few rows redoes
    their blocks and a merge of the blocks' answers, not the whole array. The merge takes the
    first block holding the lowest value (so the first row holding it, as `argmin` does), and
    the lowest of the other blocks' lowest and that block's second: the same values as
    `top_two` over the whole array (`lookahead_kernels.redo_blocks`, `merge_blocks`)."""

    BLOCK = 32

    def __init__(self, values: Floats) -> None:
        self.values = values
        n, t = values.shape
        nb = max(1, -(-n // self.BLOCK))
        self.first = np.full((nb, t), np.inf)
        self.low = np.zeros((nb, t), np.intp)
        self.second = np.full((nb, t), np.inf)
        self.changed(np.arange(0, n, self.BLOCK, dtype=np.intp))

    def changed(self, rows: Rows) -> None:
        """Rows of `values` that were rewritten (in place) since: their blocks are redone."""
        b = self.BLOCK
        lookahead_kernels.redo_blocks(
            self.values, b, np.asarray(rows, np.intp), self.first, self.low, self.second
        )

    def get(self) -> tuple[Floats, npt.NDArray[np.intp], Floats]:
        """`top_two(values)`."""
        out: tuple[Floats, npt.NDArray[np.intp], Floats] = lookahead_kernels.merge_blocks(
            self.first, self.low, self.second
        )
        return out
