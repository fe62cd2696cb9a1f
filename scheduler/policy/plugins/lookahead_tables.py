"""Tables the look-ahead's `best_increase` reads (`lookahead_cost`): how each typical shape
moves FGD's per-threshold counts (`Moves`, kept across mixes by GPU geometry), and where a
state's and each shape's leftover's cells lie in a mix's `FragTable` (`TableCells`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from packing.fgd import FragTable
from scheduler.policy.model import MILLI_PER_GPU
from scheduler.policy.plugins import lookahead_kernels as lk

if TYPE_CHECKING:
    from scheduler.policy.plugins.lookahead_cost import MixShapes


class Moves:
    """How a placement moves FGD's per-threshold counts, tabulated for a mix's shapes: row
    `start[t] + v` (v = the free milli of the GPU a share takes, from its milli to 1000;
    whole-GPU and CPU-only shapes one row, `start[t]`, v = 1000) holds, per threshold, the
    GPUs (`cnt`) and free milli (`big`) that shape t takes from the counts; row `zero` is all
    zeros. `at[t]`: the threshold equal to a share's milli (0 for other shapes). The rows
    depend on the thresholds and on each shape's milli per GPU, GPU count and kind only, not on
    the mix's weights or CPU: shapes alike in those share rows, and the tables are kept across
    mixes (`_geometry_rows`)."""

    def __init__(self, th: npt.NDArray[np.int64], sh: MixShapes) -> None:
        kinds = [
            (milli, 1 if share else k, share)
            for milli, k, share in zip(
                sh.milli.tolist(), sh.count.tolist(), sh.share.tolist(), strict=True
            )
        ]
        self.cnt, self.big, offset = _geometry_rows(th, tuple(sorted(set(kinds))))
        self.start = np.array([offset[x] for x in kinds], np.int64)
        self.at = np.array([int(th.searchsorted(x[0])) if x[2] else 0 for x in kinds], np.intp)
        self.zero = len(self.cnt) - 1
        # Whether shape t fits a state's GPUs is `cnt[need_at[t]] >= need[t]` over the state's
        # per-threshold counts (free milli <= 1000, as `best_increase` checks): a share needs
        # one GPU at or above its milli (threshold `at`), k whole GPUs k idle ones (GPUs at or
        # above the 1000 threshold), a CPU-only shape none. None when some whole-GPU shape
        # has no 1000 threshold to read, or there is no threshold (then `best_increase` counts
        # the idle GPUs itself).
        whole = [x for x in kinds if not x[2] and x[1] > 0]
        top = int(th.searchsorted(MILLI_PER_GPU)) if len(th) else 0
        if not len(th) or whole and (top == len(th) or int(th[top]) != MILLI_PER_GPU):
            self.need_at: npt.NDArray[np.intp] | None = None
        else:
            at = self.at.tolist()
            self.need_at = np.array(
                [a if x[2] else top if x[1] > 0 else 0 for a, x in zip(at, kinds, strict=True)],
                np.intp,
            )  # fmt: skip
        self.need = np.array([1 if x[2] else x[1] for x in kinds], np.int64)


Geometry = tuple[int, int, bool]  # (milli per GPU, GPUs, whether a share)
MAX_MOVES = 4  # tables kept across mixes (~0.5 MB each on the default trace), then restart
_MOVES: dict[
    tuple[bytes, tuple[Geometry, ...]],
    tuple[npt.NDArray[np.int32], npt.NDArray[np.int32], dict[Geometry, int]],
] = {}  # fmt: skip


def _geometry_rows(
    th: npt.NDArray[np.int64], kinds: tuple[Geometry, ...]
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32], dict[Geometry, int]]:
    """(GPUs, milli) per threshold that one pod of each kind (milli per GPU, GPUs k, share)
    takes from the counts, per free value v of the GPUs it takes (v = milli..1000 for a share,
    v = 1000 else), stacked, with a zero row last; and per kind the row of v = 0 (of its one
    row if not a share). Kept across mixes, which republish the same few kinds."""
    global _MOVES
    key = (th.tobytes(), kinds)
    got = _MOVES.get(key)
    if got is None:
        blocks_c, blocks_b, offset, n = [], [], {}, 0
        for milli, k, share in kinds:
            v = np.arange(milli, MILLI_PER_GPU + 1) if share else np.array([MILLI_PER_GPU])
            v = v[:, None]
            after = v - milli
            was, now = v >= th, after >= th
            blocks_c.append(k * (was & ~now))
            blocks_b.append(k * (np.where(was, v, 0) - np.where(now, after, 0)))
            offset[(milli, k, share)] = n - milli if share else n
            n += len(v)
        zeros = np.zeros((1, len(th)), np.int64)
        cnt = np.concatenate([*blocks_c, zeros]).astype(np.int32)
        big = np.concatenate([*blocks_b, zeros]).astype(np.int32)
        if len(_MOVES) >= MAX_MOVES:
            _MOVES = {}  # replaced, not mutated: safe against concurrent readers
        got = _MOVES[key] = (cnt, big, offset)
    return got


class TableCells:
    """What `best_increase` reads of a table for one set of shapes, so that its states and
    every shape's after them go through `FragTable.frag_from_counts`'s one flat lookup with
    the positions formed from parts: `flat` the table, a count moves a position by
    `per_count`, threshold i by `offset[i]`, the model by `per_model`; `cnt_cells` the
    `Moves` count rows as position moves. Free CPU enters only through comparisons with a
    shape's CPU, the table's CPU grid, and the grid plus a shape's CPU (the CPU left after the
    shape), all in `breaks`: per interval of `breaks` (`searchsorted(..., "right")`), `column`
    holds the table's CPU column of the state (column 0) and of each shape's leftover, and
    `cpu_fits` whether each shape's CPU fits, read at the interval's lowest value: the same as
    `searchsorted` of any free CPU in the interval (a negative one included)."""

    def __init__(self, table: FragTable, sh: MixShapes) -> None:
        _, m, g, c = table.tab.shape
        self.flat = table.tab.reshape(-1)
        self.per_count, self.per_model = c, m * g * c
        self.offset = np.arange(m, dtype=np.int64) * (g * c)
        grid = table.cpu_grid
        self.breaks = np.unique(np.concatenate([grid, sh.cpu, (grid[:, None] + sh.cpu).ravel()]))
        low = np.concatenate([self.breaks[:1] - 1, self.breaks])  # each interval's lowest
        self.low = low
        self.column = np.empty((len(low), len(sh.cpu) + 1), np.int64)
        self.column[:, 0] = grid.searchsorted(low, side="right")
        self.column[:, 1:] = grid.searchsorted(low[:, None] - sh.cpu, side="right")
        self.cpu_fits = low[:, None] >= sh.cpu
        moves = sh.moves(table.milli)
        self.cnt_cells = None if moves is None else moves.cnt.astype(np.int64) * c
        self.with_state = None if moves is None else WithState(sh, moves, self.cpu_fits)


class WithState:
    """The shapes' columns that `best_increase` reads, each with a leading column for the
    state itself: a pseudo-shape that takes nothing (GPUs, milli, CPU) and always fits, whose
    `Moves` row is the zero row. The state's own cells, free milli and total then form in the
    same steps as every shape's after it (the same integers as writing them apart).
    `columns`: the per-shape integers, one row each (rows `lookahead_kernels.AT`...), one
    kernel argument; `counts_fit`: whether `Moves.need_at` exists (else idle GPUs counted)."""

    def __init__(self, sh: MixShapes, moves: Moves, cpu_fits: npt.NDArray[np.bool_]) -> None:
        self.counts_fit = moves.need_at is not None
        at = moves.at
        columns = np.empty((7, len(at) + 1), np.int64)
        columns[lk.AT] = _lead(at, 0)
        columns[lk.NEED_AT] = _lead(at if moves.need_at is None else moves.need_at, 0)
        columns[lk.NEED] = _lead(moves.need, 0)  # (every count >= 0: the state always fits)
        columns[lk.SHARE] = _lead(sh.share, False)
        columns[lk.COUNT] = _lead(sh.count, 0)
        columns[lk.START] = _lead(moves.start, moves.zero)
        columns[lk.TAKEN] = _lead(sh.taken, 0)
        self.columns = columns
        self.allowed = np.concatenate([np.ones((len(sh.allowed), 1), bool), sh.allowed], axis=1)
        self.cpu_fits = np.concatenate([np.ones((len(cpu_fits), 1), bool), cpu_fits], axis=1)


def _lead(x: npt.NDArray[Any], first: object) -> npt.NDArray[Any]:
    """`x` with `first` before it, in `x`'s dtype."""
    return np.concatenate([np.array([first], x.dtype), x])
