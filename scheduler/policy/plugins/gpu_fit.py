"""Filter: the pod's GPU request fits this node's exact free geometry (whole, MIG or milli).

The batch method answers from the fleet index with one summarised reason per request (the
per-node reason, with counts for this node, is what `explain` shows). Dynamic MIG runs the
per-node greedy over the index (`mig_greedy`), one instance after another.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from packing.jit import kernel
from scheduler.policy.fit import check
from scheduler.policy.fleet_index import NO_GPU, FleetIndex
from scheduler.policy.interfaces import Bools, CycleState, Rows, RowVerdicts
from scheduler.policy.mig_greedy import planned
from scheduler.policy.model import MILLI_PER_GPU, ClusterState, GpuRequest, Node, PodRequest
from scheduler.policy.status import SUCCESS, Code, Status


class GpuFit:
    name = "GpuFit"
    state_only = True  # filter_rows reads only the row's index columns (ScorePlugin)

    def __init__(self, args: None = None) -> None:
        """Takes no settings (the registry's factory call)."""

    def filter(self, state: ClusterState, pod: PodRequest, node: Node) -> Status:
        if pod.gpu is None:
            return SUCCESS
        return check(state.capacity(node.name), pod)

    def filter_rows(self, cycle: CycleState) -> RowVerdicts | None:
        req = cycle.pod.gpu
        if req is None:
            return RowVerdicts.all_pass()
        ok, every, why_not = _fit(cycle.index, cycle.rows, req)
        # Every row fits (the common answer, per pod): no codes to build, spread or scan, and
        # no reason to find.
        if every:
            return RowVerdicts.all_pass()
        unres, why, why_never = why_not()
        code = np.full(len(ok), int(Code.UNSCHEDULABLE), np.int8)
        code[unres] = int(Code.UNSCHEDULABLE_AND_UNRESOLVABLE)
        code[ok] = int(Code.SUCCESS)  # a row that fits passes, whatever `unres` says
        reasons = {Code.UNSCHEDULABLE: why, Code.UNSCHEDULABLE_AND_UNRESOLVABLE: why_never}
        return RowVerdicts(code, reasons)  # every row is judged here: none needs the exact path


Why = tuple[Bools, str, str]  # (unresolvable, unschedulable reason, unresolvable reason)


def _fit(idx: FleetIndex, r: Rows, req: GpuRequest) -> tuple[Bools, bool, Callable[[], Why]]:
    """(fits, whether every row fits, the rows' `Why` when some row does not fit: asked only
    then)."""
    n = len(r)
    k = req.count
    if req.kind == "whole":
        ok, every = _plain_fits(idx.plain_free, idx.plain_mem, r, True, k, 0, 0)

        def why_not_whole() -> Why:
            usable = np.add.reduce(idx.plain_free.take(r, axis=0) != NO_GPU, axis=1)
            return (usable < k, f"fewer than {k} free whole GPU(s)",
                    f"fewer than {k} usable GPU(s) without MIG")  # fmt: skip

        return ok, every, why_not_whole
    if req.kind == "milli":
        ok, every = _plain_fits(idx.plain_free, idx.plain_mem, r, False, 1, req.milli,
                                req.memory_mib)  # fmt: skip

        def why_not() -> Why:
            pf = idx.plain_free.take(r, axis=0)
            roomy = (pf != NO_GPU) & (idx.plain_size.take(r, axis=0) >= req.memory_mib)
            return (np.logical_not(np.logical_or.reduce(roomy, axis=1)),
                    f"no GPU has {req.milli} milli and {req.memory_mib} MiB free",
                    f"no usable GPU without MIG has {req.memory_mib} MiB")  # fmt: skip

        return ok, every, why_not
    p = req.profile or ""
    if not req.dynamic:
        free = idx.static_free.get(p)
        total = idx.static_total.get(p)
        ok = free[r] >= k if free is not None else np.zeros(n, bool)
        unres = total[r] < k if total is not None else np.ones(n, bool)
        why_static: Why = (unres, f"fewer than {k} free {p} MIG instance(s)",
                           f"fewer than {k} {p} MIG instance(s) exist")  # fmt: skip
        return ok, bool(np.logical_and.reduce(ok)), lambda: why_static
    plan = planned(idx, r, p, k)  # the per-node greedy, one instance after another
    one: Bools = plan["fits"]
    never: Bools = np.asarray(np.logical_not(plan["supports"]))
    why_dynamic: Why = (never, f"no free placement for {k} x {p}",
                        f"no MIG-enabled GPU here supports profile {p}")  # fmt: skip
    return one, bool(np.logical_and.reduce(one)), lambda: why_dynamic


def _plain_sample() -> tuple[object, ...]:
    rows = np.zeros(1, np.intp)
    return np.zeros((1, 2), np.int16), np.zeros((1, 2), np.int32), rows, True, 1, 0, 0


@kernel(_plain_sample)
def _plain_fits(
    plain_free: npt.NDArray[np.int16],
    plain_mem: npt.NDArray[np.int32],
    rows: Rows,
    whole: bool,
    count: int,
    milli: int,
    memory_mib: int,
) -> tuple[Bools, bool]:
    """Per row of `rows`: `whole`, at least `count` GPUs without MIG wholly free; else one
    with `milli` and `memory_mib` free. And whether every row fits. One pass, no gathered
    copy of the rows."""
    n, slots = len(rows), plain_free.shape[1]
    ok = np.empty(n, np.bool_)
    every = True
    for i in range(n):
        r = rows[i]
        fit = False
        if whole:
            idle = 0
            for j in range(slots):
                if plain_free[r, j] == MILLI_PER_GPU:
                    idle += 1
            fit = idle >= count
        else:
            for j in range(slots):
                if plain_free[r, j] >= milli and plain_mem[r, j] >= memory_mib:
                    fit = True
                    break
        ok[i] = fit
        every = every and fit
    return ok, every
