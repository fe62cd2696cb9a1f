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
from packing.fgd import FragTable, TargetWorkload, TaskShape, add_reduce
from packing.fractional import NO_GPU
from packing.fragmentation import FractionalCandidate, MigCandidate, fragmentation_increase
from packing.jit import kernel
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
        # (CPU only: `mine` is all False, no GPU taken anywhere)
        n = np.zeros(len(cycle.rows), np.int64) if g is None else batch.taken_counts(cycle)
        idle = g is not None and g.kind == "whole"
        both = np.empty((2, len(cycle.rows)))  # (the increase, the score)
        _fgd_rows(
            base["ints"], base["frag"], cycle.rows, idx.plain_free, mine, n, table.milli,
            table.flat, table.cpu_grid, milli, cpu, idle, scale, g is not None, both,
        )  # fmt: skip
        out: Floats = both[1]
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
    reads, as one int64 block `ints` = [cells (m), big (m), free total, free CPU], and the
    row's fragmentation `frag` against the table's workload (`FragTable.frag_from_counts`:
    the same integers, gather, products and sum, bit for bit). Every field is a function of
    the row's own columns and the table. One kernel call whatever the rows (`per_row` redoes
    the row a bind changed); more GPUs than the table raises `frag_from_counts`' error."""
    # One record more than asked for: the fields of two or more records are strided views
    # (numba's 'A' layout) however many rows are asked, so the kernel compiles once.
    out = np.empty(len(r) + 1, _counts_dtype(len(table.milli)))
    ok = _count_rows(
        out["ints"], out["frag"], r, idx.plain_free, idx.product, idx.cpu,
        table.milli, table.flat, table.cpu_grid, table.max_gpus,
    )  # fmt: skip
    if not ok:
        raise PackingError(f"more than {table.max_gpus} GPUs for the fragmentation table")
    return out[: len(r)]


def _counts_sample() -> tuple[Any, ...]:
    out = np.zeros(2, _counts_dtype(1))
    grid = np.array([0, 1000], np.int64)
    return (out["ints"], out["frag"], np.zeros(2, np.intp), np.zeros((3, 2), np.int16),
            np.zeros(3, np.int16), np.zeros(3, np.int64), np.array([500], np.int64),
            np.zeros(27), grid, 8)  # fmt: skip


@kernel(_counts_sample)
def _count_rows(ints, frag, r, free, product, cpu, th, flat, grid, max_gpus):
    """`_fgd_counts` into `ints` / `frag` (one row per entry of `r`); False, with nothing
    gathered, when some row has more GPUs at a threshold than the table (`max_gpus`)."""
    m, c = len(th), len(grid) + 1
    per_m = (max_gpus + 1) * c  # the table's cells per threshold (`FragTable._col_offset`)
    w = np.empty(m)
    for i in range(len(r)):
        row = r[i]
        total = 0
        for j in range(free.shape[1]):
            if free[row, j] != NO_GPU:
                total += free[row, j]
        for t in range(m):
            cnt = big = 0
            for j in range(free.shape[1]):
                g = free[row, j]
                if g != NO_GPU and g >= th[t]:
                    cnt += 1
                    big += g
            if cnt > max_gpus:
                return False
            ints[i, t] = cnt * c + t * per_m + product[row] * (m * per_m)
            ints[i, m + t] = big
        ints[i, 2 * m] = total
        ints[i, 2 * m + 1] = cpu[row]
        k = np.searchsorted(grid, cpu[row], side="right")
        for t in range(m):
            w[t] = flat[ints[i, t] + k] * ints[i, m + t]
        frag[i] = total - add_reduce(w, 0, m)
    return True


def _fgd_increase(
    table: FragTable, idx: FleetIndex, r: Rows, base: npt.NDArray[Any], take: Bools,
    milli: int, pod_cpu: int, counts: npt.NDArray[np.int64] | None = None,
    *, idle: bool = False,
) -> tuple[Floats, Bools]:  # fmt: skip
    """FGD's increase per row `r` (`base`: every row's `_fgd_counts`) when the pod takes
    `milli` from each taken GPU (`take`: the candidates' placement columns), and whether the
    pod's GPUs fit the row at all. `counts`: the GPUs taken per row when the caller has them
    (`batch.taken_counts`: the same integers). `idle`: every taken GPU is idle (whole GPUs:
    `batch._chosen` takes only GPUs with 1000 free), so the rows' free milli is not read."""
    n = np.add.reduce(take, axis=1, dtype=np.int64) if counts is None else counts
    out = np.empty((2, len(r)))
    _fgd_rows(
        base["ints"], base["frag"], r, idx.plain_free, take, n, table.milli, table.flat,
        table.cpu_grid, milli, pod_cpu, idle, SCALE_MILLI, True, out,
    )  # fmt: skip
    return out[0], n > 0


def _rows_sample() -> tuple[Any, ...]:
    *head, free, _, _, th, flat, grid, _ = _counts_sample()
    take, n, out = np.zeros((2, 2), bool), np.zeros(2, np.int64), np.zeros((2, 2))
    return (*head, free, take, n, th, flat, grid, 500, 0, False, SCALE_MILLI, True, out)


@kernel(_rows_sample)
def _fgd_rows(ints, frag0, r, free, take, n, th, flat, grid, milli, pod_cpu, idle, scale, gpu, out):
    """Into out[0], out[1]: the increase and the score per row `r` of a pod taking `milli`
    from each of the n[i] GPUs of `take[i]` (all of one free value v: a share takes one GPU;
    `idle`: whole GPUs, v = 1000) and `pod_cpu` CPU, from the rows' `_fgd_counts` (`ints`,
    `frag0`). The taken GPUs leave each threshold t in (v - milli, v] (a count step of the
    cells and v milli each) and leave `milli` less on those at or below v - milli
    (integers, exactly the counts of the rows after the pod). Then
    `FragTable.frag_from_counts`' gather, products and sum, minus the row's `frag0`; the score is
    `_logistic(inc, scale)`, 0 where the pod takes no GPU (`gpu`: a GPU pod; a CPU-only pod
    fits every row). The same float steps, in numpy's order, as the array path they replace:
    the same bits. (Outputs are the caller's: an array a kernel allocates costs more to hand
    back than the arithmetic.)"""
    m, c = len(th), len(grid) + 1
    w = np.empty(m)
    for i in range(len(r)):
        row, k_gpus = r[i], n[i]
        v = 0
        if idle:
            v = MILLI_PER_GPU if k_gpus > 0 else 0
        else:
            for j in range(take.shape[1]):
                if take[i, j] and free[row, j] > v:
                    v = free[row, j]
        total = ints[row, 2 * m] - (k_gpus * milli if v > 0 else 0)
        cpu = ints[row, 2 * m + 1] - pod_cpu
        k = np.searchsorted(grid, cpu, side="right")
        for t in range(m):
            cell, big = ints[row, t], ints[row, m + t]
            if v >= th[t]:
                if v - milli >= th[t]:
                    big -= k_gpus * milli
                else:
                    cell -= k_gpus * c
                    big -= k_gpus * v
            w[t] = flat[cell + k] * big
        d = (total - add_reduce(w, 0, m)) - frag0[row]
        out[0, i] = d
        x = d / scale
        if x > 50.0:  # np.minimum(x, 50.0), NaN kept
            x = 50.0
        out[1, i] = 1.0 / (1.0 + np.exp(x)) if k_gpus > 0 or not gpu else 0.0


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
