"""Score: prefer the node where the pod's exact placement raises GPU fragmentation least.

The increase comes from `packing.fragmentation.fragmentation_increase` (MIG: free slices that
no profile of the mix can use any more; whole GPUs and shares: the FGD paper's measure). The
target workload is configurable; by default it is the incoming pod's own shape, CPU request
included, i.e. "how much free capacity does this placement strand for pods like this one".
The node's CPU is its free CPU (`NodeCapacity.cpu_free`) and the pod's request is taken from
it: a node whose CPU runs out can host no GPU task, so its free GPUs become fragments. With a
configured workload a CPU-only pod is scored the same way (it only consumes CPU); with the
default one it has no shape to judge and scores 0 everywhere. Taking an existing static
MIG instance changes no geometry (increase 0). Score = 1 / (1 + exp(increase / 250 milli)),
so no change scores 0.5, a placement that mends fragments scores above it.

When the snapshot carries the pods seen so far (`ClusterState.demand`, see
`scheduler.policy.demand`) and no workload is configured, the target workload is their typical
mix: FGD's own measure, each shape with the GPU models it accepts (a node's free GPUs count as
fragments for shapes that may not use its model), every pod scored, CPU-only ones included, on
FGD's scale (1 / (1 + exp(increase / 1000 milli))).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from packing.errors import PackingError
from packing.fgd import FragTable, TargetWorkload, TaskShape, count_moves
from packing.fractional import NO_GPU
from packing.fragmentation import FractionalCandidate, MigCandidate, fragmentation_increase
from packing.mig import MigInstance
from scheduler.policy import batch
from scheduler.policy.capacity import NodeCapacity
from scheduler.policy.fleet_index import FleetIndex
from scheduler.policy.interfaces import Bools, CycleState, Floats, Rows, cycle_for
from scheduler.policy.model import MILLI_PER_GPU, ClusterState, Node, Placement, PodRequest
from scheduler.policy.rules import canonical

SCALE_MILLI = 250.0
MIX_SCALE_MILLI = 1000.0  # FGD's own sigmoid scale, for the observed mix


@lru_cache(maxsize=256)
def _table(workload: TargetWorkload, models: tuple[str, ...]) -> FragTable:
    return FragTable(workload, models)


@lru_cache(maxsize=1024)
def own_shape(cpu_milli: int, milli: int, count: int) -> TargetWorkload:
    """The pod's own shape as a one-task workload (whole GPUs: milli 1000, count n)."""
    return TargetWorkload((TaskShape(cpu_milli, milli, count),), (1.0,))


def _own_shape(pod: PodRequest) -> TargetWorkload:
    g = pod.gpu
    assert g is not None
    whole = g.kind == "whole"
    return own_shape(pod.cpu_milli, MILLI_PER_GPU if whole else g.milli, g.count if whole else 1)


@dataclass(frozen=True)
class FragmentationArgs:
    """The scorer's settings: the workload whose fragmentation it measures (None: the incoming
    pod's own shape) and the MIG profile mix (None: `packing`'s default mix)."""

    workload: TargetWorkload | None = None
    mig_mix: Mapping[str, float] | None = None


class FragmentationScore:
    name = "Fragmentation"
    state_only = True  # score_rows reads only the row's index columns (ScorePlugin)

    def __init__(self, args: FragmentationArgs | None = None) -> None:
        self.args = args or FragmentationArgs()
        self.workload = self.args.workload
        self.mig_mix = self.args.mig_mix

    def target(self, state: ClusterState) -> tuple[TargetWorkload | None, float]:
        """(the workload to measure against, the logistic scale): the configured one, else
        the observed mix of the snapshot, else None (the pod's own shape)."""
        if self.workload is not None:
            return self.workload, SCALE_MILLI
        mix = state.demand
        if mix is not None and mix.workload is not None:
            return mix.workload, MIX_SCALE_MILLI
        return None, SCALE_MILLI

    def score(
        self, state: ClusterState, pod: PodRequest, node: Node, cycle: CycleState | None = None
    ) -> float:
        placement = cycle_for(state, pod, cycle).placement(node)
        workload, scale = self.target(state)
        if placement is None or (pod.gpu is None and workload is None):
            return 0.0
        try:
            inc = self.increase(state.capacity(node.name), pod, placement, workload)
        except PackingError:
            return 0.5  # a layout the catalogue cannot judge: neutral, never a crash
        return 1.0 / (1.0 + math.exp(min(inc / scale, 50.0)))

    def increase(
        self,
        cap: NodeCapacity,
        pod: PodRequest,
        placement: Placement,
        workload: TargetWorkload | None = None,
    ) -> float:
        g = pod.gpu
        by_index = {c.index: c for c in cap.gpus}
        if g is not None and g.kind == "mig":
            if not g.dynamic:
                return 0.0
            total = 0.0
            added: dict[int, list[MigInstance]] = {}
            for grant in placement.gpus:
                gc = by_index[grant.index]
                assert gc.model is not None and grant.profile is not None
                layout = (*gc.occupied, *added.get(grant.index, []))
                cand = MigCandidate(gc.model.key, tuple(layout), grant.profile, grant.start or 0)
                total += fragmentation_increase(cand, self.mig_mix)
                added.setdefault(grant.index, []).append(
                    MigInstance(grant.profile, grant.start or 0)
                )
            return total
        # Shares and whole GPUs need no MIG geometry, so GPUs of models outside the MIG
        # catalogue (the Alibaba trace's T4, P100, G2, ...) are scored by the same FGD measure.
        plain = [c for c in cap.gpus if c.model is not None or not c.gpu.mig_enabled]
        if not plain:
            return 0.0
        left = tuple(NO_GPU if c.faulted or c.gpu.mig_enabled else c.free_milli for c in plain)
        pos = {c.index: i for i, c in enumerate(plain)}
        model = canonical(plain[0].gpu.model)  # the name the fleet index's product column holds
        workload = workload or self.workload or _own_shape(pod)
        milli = 0 if g is None else MILLI_PER_GPU if g.kind == "whole" else g.milli
        frac = FractionalCandidate(
            _table(workload, (model,)),
            left,
            cap.cpu_free,
            model,
            tuple(pos[x.index] for x in placement.gpus),
            milli,
            pod.cpu_milli,
        )
        return fragmentation_increase(frac)

    def score_rows(self, cycle: CycleState) -> Floats | None:
        """The same value from the fleet index, for the default settings (the pod's own shape
        or the observed mix; the default MIG mix); a configured workload or mix is scored per
        node."""
        pod = cycle.pod
        if self.workload is not None or self.mig_mix is not None:
            return None
        workload, scale = self.target(cycle.state)
        g = pod.gpu
        if g is None and workload is None:  # no shape to judge (module docstring): 0 everywhere
            return np.zeros(len(cycle.rows))
        if g is not None and not batch.scorable(pod):
            return None
        if g is not None and g.kind == "mig":
            rows = batch.mig_rows(cycle)
            value = np.where(rows["fits"], _logistic(rows["inc"]), 0.0)
            return np.where(rows["slow"], np.nan, value)
        idx = cycle.index
        if g is None:  # (the mix's workload: `every` is read only for the pod's own shape)
            every = mine = np.zeros((len(cycle.rows), idx.slots), bool)
            milli = count = 0
        else:
            every, mine = batch.placement_columns(cycle)  # every index row; the candidates
            milli = MILLI_PER_GPU if g.kind == "whole" else g.milli
            count = g.count if g.kind == "whole" else 1
        cpu = pod.cpu_milli
        if workload is None:
            key: tuple[object, ...] = ("frag", *batch.shape(pod), cpu)
            got: Floats = idx.per_row(
                key, lambda rr: _own_shape_rows(idx, rr, every[rr], milli, count, cpu)
            )[cycle.rows]
            return got
        mix = cycle.state.demand
        assert mix is not None  # `target` gave the mix's workload
        table = mix.table(tuple(idx.keys), max(8, idx.slots))
        assert table is not None
        # (the table's cells, in the memo, depend on its GPU limit: `max_gpus` in the key)
        key = ("fgd-counts", mix.serial, len(idx.keys), table.max_gpus)
        if key not in idx.row_memo:  # a new mix: drop the counts against the ones it replaced
            idx.forget(lambda k: isinstance(k, tuple) and k[:1] == ("fgd-counts",) and k != key)
        base = idx.per_row(key, lambda rr: _fgd_counts(idx, rr, table))
        n = None if g is None else batch.taken_counts(cycle)  # (CPU only: `mine` is all False)
        idle = g is not None and g.kind == "whole"
        inc, fits = _fgd_increase(table, idx, cycle.rows, base, mine, milli, cpu, n, idle=idle)
        value = _logistic(inc, scale)
        if g is None:  # a CPU-only pod fits every node's GPUs
            return value
        out: Floats = np.where(fits, value, 0.0)
        return out


def _logistic(inc: Floats, scale: float = SCALE_MILLI) -> Floats:
    out: Floats = 1.0 / (1.0 + np.exp(np.minimum(inc / scale, 50.0)))
    return out


@lru_cache(maxsize=16)
def _counts_dtype(m: int) -> np.dtype[Any]:
    """The per-row record of `_fgd_counts` for m thresholds."""
    return np.dtype([("ints", np.int64, (2 * m + 2,)), ("frag", np.float64)])


def _fgd_counts(idx: FleetIndex, r: Rows, table: FragTable) -> npt.NDArray[Any]:
    """Per row, FGD's per-threshold counts of the free GPUs (`FragTable.counts`) as the table
    cells they select (`FragTable.cells`, with the row's model) and the fields the increase
    reads, as one int64 block `ints` = [cells (m), big (m), free total, free CPU] (one gather
    per pod), and the row's fragmentation `frag` against the table's workload. Every field is
    a function of the row's own columns and the table. One row (the common call: `per_row`
    redoes the row a bind changed) goes through `_fgd_counts_one`, the same values."""
    if len(r) == 1:
        return _fgd_counts_one(idx, int(r[0]), table)
    pf = idx.plain_free[r].astype(np.int64)
    cnt, big = table.counts(pf)
    total = np.where(pf == NO_GPU, 0, pf).sum(axis=1)
    m = len(table.milli)
    out = np.zeros(len(r), _counts_dtype(m))
    ints = out["ints"]
    model = idx.product[r].astype(np.intp)
    cpu = idx.cpu[r]
    ints[:, :m], ints[:, m : 2 * m] = table.cells(cnt, model), big
    ints[:, 2 * m], ints[:, 2 * m + 1] = total, cpu
    out["frag"] = table.frag_from_counts(total, cnt, big, cpu, model)
    return out


def _fgd_counts_one(idx: FleetIndex, row: int, table: FragTable) -> npt.NDArray[Any]:
    """`_fgd_counts` of one row: the integers in plain Python (exact, `FragTable.row_cells`),
    the fragmentation through `FragTable.frag_of_row` (the batch's gather, products and sum,
    bit for bit)."""
    cells, big, total = table.row_cells(idx.plain_free[row].tolist(), int(idx.product[row]))
    cpu = int(idx.cpu[row])
    frag = table.frag_of_row(total, cells, big, cpu)
    # One record from Python values (one call, not a zeroed array and two field writes).
    return np.array([([*cells, *big, total, cpu], frag)], _counts_dtype(len(cells)))


# Tables kept (least recently used dropped): 1001 x (2m + 2) int32 each, ~100 KB at the
# default trace's 12 thresholds (~3 MB in all); its pods ask for 22 distinct milli values.
MAX_POD_MOVES = 32


@lru_cache(maxsize=MAX_POD_MOVES)
def _pod_moves(th: bytes, per_count: int, milli: int) -> npt.NDArray[np.int32]:
    """Per free value v = 0..1000 of a GPU the pod takes `milli` from, what that GPU takes
    from a row's `ints` (`_fgd_counts`): [cell moves (count moves x `per_count`, the table's
    cells per count), big moves (`packing.fgd.count_moves` over the thresholds `th`, int64
    bytes), milli, 0]. Kept across mixes: it depends on the thresholds, the table's CPU grid
    size and the pod's milli only. int32: every entry is at most 1000 or one cell step, and
    the caller scales a row by the GPUs taken (<= 8 or so) before subtracting it from int64."""
    cnt, big = count_moves(np.frombuffer(th, np.int64), milli)
    m = cnt.shape[1]
    out = np.zeros((MILLI_PER_GPU + 1, 2 * m + 2), np.int32)
    out[:, :m], out[:, m : 2 * m], out[:, 2 * m] = cnt * per_count, big, milli
    # Row 0 all zeros: a row taking no GPU reads v = 0 (the caller's max starts at 0), and a
    # GPU the pod takes holds v >= milli > 0 free (milli 0: row 0 is zeros anyway), so the
    # caller need not multiply by the GPUs taken unless some row takes more than one.
    out[0, 2 * m] = 0
    return out


def _fgd_increase(
    table: FragTable, idx: FleetIndex, r: Rows, base: npt.NDArray[Any], take: Bools,
    milli: int, pod_cpu: int, counts: npt.NDArray[np.int64] | None = None,
    *, idle: bool = False,
) -> tuple[Floats, Bools]:  # fmt: skip
    """FGD's increase per row `r` (`base`: every row's `_fgd_counts`) when the pod takes
    `milli` from each taken GPU (all taken GPUs hold the same free milli v: whole GPUs are
    idle, a share takes one GPU), and whether the pod's GPUs fit the row at all. The n taken
    GPUs move the counts by n times the tabulated row v of `_pod_moves` (integers: exactly
    `_fgd_increase_direct`'s counts, as table cells), so the same fragmentation, bit for
    bit. `counts`: the GPUs taken per row when the caller has them (`batch.taken_counts`:
    the same integers). `idle`: every taken GPU is idle (whole GPUs: `batch._chosen` takes
    only GPUs with 1000 free), so v is 1000 wherever n > 0 and the moves are n times row
    1000 (row 0 is zeros), with no gather of the rows' free milli."""
    # Over each row's GPU columns, GPUs-first: the outer axis of a (columns, rows) copy, not an
    # inner axis of 8 per row (integers: the same count and maximum; about half the time).
    n: Any = np.add.reduce(np.ascontiguousarray(take.T), axis=0) if counts is None else counts
    if idle:
        return _increase_from(table, base.take(r), _idle_moves(table, milli, n), pod_cpu, n)
    on = np.ascontiguousarray(idx.plain_free.take(r, axis=0).T)
    on *= take.T
    v: Rows = np.maximum.reduce(on, axis=0, initial=0)
    per_count = table.tab.shape[3]
    try:
        moves = _pod_moves(table.milli.tobytes(), per_count, milli).take(v, axis=0)
    except IndexError:  # a malformed row claiming > 1000 free milli: the direct way
        return _fgd_increase_direct(table, idx, r, base, take, milli, pod_cpu)
    if np.maximum.reduce(n, initial=0) > 1:  # (0 or 1 GPU taken: row 0 is zeros)
        moves *= n[:, None]
    # The records first, then their fields: `take` on a field (a strided view) would copy
    # the field of every index row into a contiguous array before gathering.
    return _increase_from(table, base.take(r), moves, pod_cpu, n)


def _idle_moves(table: FragTable, milli: int, n: npt.NDArray[np.int64]) -> npt.NDArray[Any]:
    """The moves of rows whose n taken GPUs are idle: n times `_pod_moves` row 1000 (int64:
    the same integers as the int32 row scaled in place)."""
    row = _pod_moves(table.milli.tobytes(), table.tab.shape[3], milli)[MILLI_PER_GPU]
    out: npt.NDArray[Any] = np.multiply.outer(n, row)
    return out


def _increase_from(
    table: FragTable, rec: npt.NDArray[Any], moves: npt.NDArray[Any], pod_cpu: int, n: Any
) -> tuple[Floats, Bools]:
    """`_fgd_increase` from the rows' records and the pod's moves of their `ints`."""
    ints = rec["ints"] - moves
    m = len(table.milli)
    cpu = ints[:, 2 * m + 1]
    cpu -= pod_cpu
    frag = table.frag_from_cells(ints[:, 2 * m], ints[:, :m], ints[:, m : 2 * m], cpu)
    frag -= rec["frag"]
    return frag, n > 0


def _fgd_increase_direct(
    table: FragTable, idx: FleetIndex, r: Rows, base: npt.NDArray[Any], take: Bools,
    milli: int, pod_cpu: int,
) -> tuple[Floats, Bools]:  # fmt: skip
    """`_fgd_increase` from the rows' columns (no tables): the counts of the free GPUs, then
    only thresholds between the taken GPUs' value and the value after move, as in
    `FragTable.frag_after_share`. The fallback for free milli above 1000 (a malformed row) and
    the tests' reference."""
    n = take.sum(axis=1)
    k = n[:, None]
    pf = idx.plain_free.take(r, axis=0).astype(np.int64)
    v = (pf * take).max(axis=1, initial=0)[:, None]
    after = v - milli
    th = table.milli[None, :]
    was, now = v >= th, after >= th  # `now` implies `was`: after <= v
    cnt0, big0 = table.counts(pf)
    # A threshold in (after, v] loses the k taken GPUs and their v milli; one at or below
    # `after` keeps them, with `milli` less each (a row taking nothing, k = 0, keeps all).
    cnt = cnt0 - k * (was & ~now)
    big = big0 - k * (np.where(was, v, 0) - np.where(now, after, 0))
    total = np.where(pf == NO_GPU, 0, pf).sum(axis=1) - n * milli
    model = idx.product.take(r).astype(np.intp)
    frag = table.frag_from_counts(total, cnt, big, idx.cpu.take(r) - pod_cpu, model)
    out: Floats = frag - base["frag"].take(r)
    return out, n > 0


@lru_cache(maxsize=256)
def _shape_table(cpu: int, milli: int, count: int) -> FragTable:
    return FragTable(TargetWorkload((TaskShape(cpu, milli, count),), (1.0,)), ("any",))


def _own_shape_rows(
    idx: FleetIndex, r: Rows, take: Bools, milli: int, count: int, pod_cpu: int
) -> Floats:
    """The own-shape FGD increase per row: free CPU before, free CPU minus the pod's after."""
    table = _shape_table(pod_cpu, milli, count)
    fits = np.flatnonzero(take.any(axis=1))
    rows = r[fits]
    pf = idx.plain_free[rows].astype(np.int64)
    after = np.where(take[fits], pf - milli, pf)
    zeros = np.zeros(len(rows), np.intp)
    cpu = idx.cpu[rows]
    inc = table.node_frag(after, cpu - pod_cpu, zeros) - table.node_frag(pf, cpu, zeros)
    out = np.zeros(len(r))
    out[fits] = _logistic(inc)
    return out
