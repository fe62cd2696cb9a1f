"""The look-ahead tie-break's arithmetic (`lookahead.LookAhead` applies it): each typical
shape's best FGD increase on a node state (`best_increase`, memoised per state in `StateMemo`,
its count moves in `Moves` tables kept across mixes), the two-step costs of the tied states
(`two_step_costs`), and the lowest two per shape (`top_two`, `BlockTopTwo`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from packing.fgd import FragTable, TargetWorkload
from packing.fractional import NO_GPU
from scheduler.policy.interfaces import Floats, Rows
from scheduler.policy.model import MILLI_PER_GPU

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
        self._moves: tuple[bytes, Moves | None] | None = None

    def moves(self, th: npt.NDArray[np.int64]) -> Moves | None:
        """The `Moves` of these shapes over thresholds `th` (the table's: one per mix), or
        None when a share's milli is not among them."""
        held = self._moves
        key = th.tobytes()
        if held is None or held[0] != key:
            ok = bool(np.isin(self.milli[self.share], th).all())
            held = self._moves = (key, Moves(th, self) if ok else None)
        return held[1]


MAX_MEMO_STATES = 1 << 15  # states a `StateMemo` keeps (~20 MB at 35 shapes), then restarts


class StateMemo:
    """`best_increase` memoised per node state, for one table and one set of shapes (one mix,
    one model list, one GPU-column count). The key of a state is its free milli per GPU, its
    model and the interval of `breaks` its free CPU falls in: free CPU enters `best_increase`
    only through comparisons with a shape's CPU, the table's CPU grid, and the grid plus a
    shape's CPU (the CPU left after the shape), so the states of one key get the same answer,
    bit for bit."""

    def __init__(self, table: FragTable, sh: MixShapes) -> None:
        self.table, self.sh = table, sh
        grid = table.cpu_grid
        self.breaks = np.unique(np.concatenate([grid, sh.cpu, (grid[:, None] + sh.cpu).ravel()]))
        self.rows: dict[bytes, Floats] = {}  # key -> (increase per shape..., fragmentation)
        # (a fleet's per-row record, `top_two` of its increases): `LookAhead._best`; one tuple,
        # replaced whole, so a reader never pairs one index's record with another's blocks.
        self.top: tuple[npt.NDArray[Any], BlockTopTwo] | None = None

    def increases(
        self, free: npt.NDArray[Any], cpu: npt.NDArray[Any], model: npt.NDArray[Any]
    ) -> tuple[Floats, Floats]:
        """`best_increase(table, sh, free, cpu, model)`; only the states not seen before go
        through it, in one call."""
        pf = np.asarray(free, np.int64)
        cpu = np.asarray(cpu, np.int64)
        model = np.asarray(model, np.int64)
        k = len(pf)
        bucket = self.breaks.searchsorted(cpu, side="right")
        key = np.concatenate([pf, bucket[:, None], model[:, None]], axis=1)
        # Each row's bytes as one `bytes` object (a C-contiguous row viewed as one void item).
        void = key.view(np.dtype((np.void, key.shape[1] * key.itemsize)))
        names: list[bytes] = void.ravel().tolist()  # type: ignore[assignment]
        memo = self.rows
        got = list(map(memo.get, names))
        todo: dict[bytes, int] = {}
        for i, g in enumerate(got):
            if g is None:
                todo.setdefault(names[i], i)
        if todo:
            at = np.array(list(todo.values()), np.intp)
            sel = model[at].astype(np.intp)
            inc, frag = best_increase(self.table, self.sh, pf[at], cpu[at], sel)
            new = np.concatenate([inc, frag[:, None]], axis=1)
            if len(memo) + len(at) > MAX_MEMO_STATES:
                memo.clear()
            for j, n in enumerate(todo):
                memo[n] = new[j]
            got = [memo[n] if g is None else g for n, g in zip(names, got, strict=True)]
        out = np.array(got, np.float64).reshape(k, len(self.sh.weight) + 1)
        return out[:, :-1], out[:, -1]


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
    table: the same values, bit for bit, as `_best_increase_direct`, in fewer array steps."""
    pf = np.asarray(free, np.int64)
    cpu = np.asarray(cpu, np.int64)
    moves = sh.moves(table.milli)
    g = np.where(pf == NO_GPU, 0, pf)
    if (
        moves is None
        or pf.shape[1] > table.max_gpus  # the direct path raises `frag_from_counts`'s error
        or (g.size and np.maximum.reduce(g, axis=None) > MILLI_PER_GPU)
    ):
        return _best_increase_direct(table, sh, pf, cpu, model)
    th = table.milli
    k, t, m = len(pf), len(sh.weight), len(th)
    total = np.add.reduce(g, axis=1)
    g3 = g[:, :, None]
    ge = g3 >= th  # (K, G, M)
    cnt = np.add.reduce(ge, axis=1)
    big = np.add.reduce(ge * g3, axis=1)
    # A share's tightest GPU: the fullest one at or above its milli, one of the thresholds.
    if m:
        tight = np.minimum.reduce(np.where(ge, g3, _NONE), axis=1).take(moves.at, axis=1)  # (K, T)
    else:  # no GPU shape: no share
        tight = np.full((k, t), _NONE, np.int64)
    idle = np.add.reduce(pf == MILLI_PER_GPU, axis=1)
    fit = np.where(sh.share, tight < _NONE, idle[:, None] >= sh.count)
    fit &= cpu[:, None] >= sh.cpu
    fit &= sh.allowed[model]
    # Row of `moves` per (state, shape): the shape's block, offset by v for a share; a state
    # where it does not fit reads the zero row (its counts stay in range; masked below).
    row = np.where(sh.share, tight, 0)
    row += moves.start
    if m and k >= SPARSE_MIN_STATES:
        p = int(np.add.reduce(fit, axis=None))
        if p * SPARSE_SHARE <= k * t:  # few (state, shape) pairs fit: form those only
            return _fitting_pairs(table, sh, moves, fit, row, (total, cnt, big, cpu, model))
    row = np.where(fit, row, moves.zero)
    c2 = np.empty((k, t + 1, m), np.int64)  # column 0: the state itself
    b2 = np.empty((k, t + 1, m), np.int64)
    c2[:, 0], b2[:, 0] = cnt, big
    np.subtract(cnt[:, None, :], moves.cnt.take(row, axis=0), out=c2[:, 1:])
    np.subtract(big[:, None, :], moves.big.take(row, axis=0), out=b2[:, 1:])
    tot2 = np.empty((k, t + 1), np.int64)
    tot2[:, 0] = total
    np.subtract(total[:, None], sh.taken, out=tot2[:, 1:])
    cpu2 = np.empty((k, t + 1), np.int64)
    cpu2[:, 0] = cpu
    np.subtract(cpu[:, None], sh.cpu, out=cpu2[:, 1:])
    if m == 0 or k == 0:  # no GPU shape in the mix: nothing free can be used, all fragments
        f = tot2.astype(np.float64)
    else:  # one lookup for (K x (T + 1)) states; the counts are in range by construction
        f = table.frag_from_counts(
            tot2.reshape(-1), c2.reshape(-1, m), b2.reshape(-1, m), cpu2.reshape(-1),
            model.repeat(t + 1), check=False,
        ).reshape(k, t + 1)  # fmt: skip
    frag0 = f[:, 0]
    out: Floats = np.where(fit, f[:, 1:] - frag0[:, None], np.inf)
    return out, np.ascontiguousarray(frag0)


# `best_increase` forms only the fitting (state, shape) pairs when there are at least this
# many states and at most 1 / SPARSE_SHARE of the pairs fit (a fleet-wide batch late in a
# fill: ~8 % of its pairs fit; a tie's few states: ~60 %).
SPARSE_MIN_STATES = 16
SPARSE_SHARE = 2


def _fitting_pairs(
    table: FragTable, sh: MixShapes, moves: Moves, fit: npt.NDArray[np.bool_],
    row: npt.NDArray[np.int64],
    state: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64],
                 npt.NDArray[np.int64], npt.NDArray[np.intp]],
) -> tuple[Floats, Floats]:  # fmt: skip
    """`best_increase`'s answer from the pairs (i, t) where shape t fits state i only: each
    state's own counts, then each fitting pair's, moved by its `Moves` row, go through one
    `frag_from_counts` call, row by row the same integers, gather, products and sum as the
    dense path's, so the same values bit for bit; the pairs that do not fit are +inf (the
    dense path forms and then masks them). `state`: (total, cnt, big, cpu, model) per state."""
    total, cnt, big, cpu, model = state
    k, t, m = len(cnt), fit.shape[1], cnt.shape[1]
    ii, tt = fit.nonzero()
    rp = row[ii, tt]
    n = k + len(ii)
    c2 = np.empty((n, m), np.int64)
    b2 = np.empty((n, m), np.int64)
    c2[:k], b2[:k] = cnt, big
    np.subtract(cnt.take(ii, axis=0), moves.cnt.take(rp, axis=0), out=c2[k:])
    np.subtract(big.take(ii, axis=0), moves.big.take(rp, axis=0), out=b2[k:])
    tot2 = np.empty(n, np.int64)
    tot2[:k] = total
    np.subtract(total.take(ii), sh.taken.take(tt), out=tot2[k:])
    cpu2 = np.empty(n, np.int64)
    cpu2[:k] = cpu
    np.subtract(cpu.take(ii), sh.cpu.take(tt), out=cpu2[k:])
    f = table.frag_from_counts(
        tot2, c2, b2, cpu2, np.concatenate([model, model.take(ii)]), check=False
    )
    frag0 = f[:k].copy()
    out: Floats = np.full((k, t), np.inf)
    out[ii, tt] = f[k:] - frag0.take(ii)
    return out, frag0


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
    `top`: `top_two(best)` when the caller has it."""
    inc = frag_after[inv] - frag_now
    # The best place for t elsewhere: the lowest over all rows, or the second lowest where the
    # lowest is this row itself. Formed per distinct state against the lowest, then redone for
    # the few rows that hold a lowest (elementwise: the same values as row by row).
    first_best, low, second = top_two(best) if top is None else top
    both = np.minimum(after, first_best[None, :])
    step = np.where(np.isinf(both), sh.lost[None, :], both).take(inv, axis=0)
    mark = np.zeros(len(best), bool)
    mark[low] = True
    hold = mark.take(rows).nonzero()[0]
    if len(hold):
        r = rows.take(hold)
        other = np.where(low[None, :] == r[:, None], second[None, :], first_best[None, :])
        both = np.minimum(after.take(inv.take(hold), axis=0), other)
        step[hold] = np.where(np.isinf(both), sh.lost[None, :], both)
    out: Floats = inc + step @ sh.weight
    return out


def top_two(best: Floats) -> tuple[Floats, npt.NDArray[np.intp], Floats]:
    """Per column of `best`: (the lowest value, its first row, the lowest over the other rows;
    +inf for one row)."""
    low = best.argmin(axis=0)  # (methods: `np.argmin` / `np.partition` call them)
    if len(best) < 2:
        return best[0].copy(), low, np.full(best.shape[1], np.inf)
    # The two smallest per column (a repeated lowest is its own second), as values.
    two = best.copy(order="K")
    two.partition(1, axis=0)
    return two[0], low, two[1]


class BlockTopTwo:
    """`top_two(values)` kept per block of `BLOCK` rows, so that changing a few rows redoes
    their blocks and a merge of the blocks' answers, not the whole array. The merge takes the
    first block holding the lowest value (so the first row holding it, as `argmin` does), and
    the lowest of the other blocks' lowest and that block's second: the same values as
    `top_two` over the whole array."""

    BLOCK = 32

    def __init__(self, values: Floats) -> None:
        self.values = values
        n, t = values.shape
        nb = max(1, -(-n // self.BLOCK))
        self.first = np.full((nb, t), np.inf)
        self.low = np.zeros((nb, t), np.intp)
        self.second = np.full((nb, t), np.inf)
        self.redo(range(nb))

    def redo(self, blocks: Any) -> None:
        """Recompute the blocks `blocks` (indexes) from `values`: several full blocks at once
        (the same per-column `argmin` and `partition` as `top_two`, along the block's rows),
        the others one by one."""
        b = self.BLOCK
        full = len(self.values) // b
        many = [j for j in blocks if j < full]
        if len(many) > 1:
            js = np.array(many, np.intp)
            # (fancy indexing: `take` would copy a strided source whole before gathering)
            part = self.values[: full * b].reshape(full, b, -1)[js]
            low = part.argmin(axis=1)
            part.partition(1, axis=1)
            self.first[js], self.second[js] = part[:, 0], part[:, 1]
            low += (js * b)[:, None]
            self.low[js] = low
            blocks = [j for j in blocks if j >= full]
        for j in blocks:
            self.first[j], low, self.second[j] = top_two(self.values[j * b : (j + 1) * b])
            self.low[j] = low + j * b

    def changed(self, rows: Rows) -> None:
        """Rows of `values` that were rewritten (in place) since."""
        self.redo(sorted({int(r) // self.BLOCK for r in rows.tolist()}))

    def get(self) -> tuple[Floats, npt.NDArray[np.intp], Floats]:
        """`top_two(values)`."""
        t = np.arange(self.first.shape[1])
        j = self.first.argmin(axis=0)
        first = self.first[j, t]
        masked = self.first.copy()
        masked[j, t] = np.inf
        return (
            first,
            self.low[j, t],
            np.minimum(np.minimum.reduce(masked, axis=0), self.second[j, t]),
        )
