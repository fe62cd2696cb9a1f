"""Conservative backfill around a kept gang, for pods that declare a run-time limit.

A gang that does not fit gets GPUs kept for it (`scheduler.policy.gang.drain_budgets`), and
pods of its priority or lower may only use what the budgets leave (`within_budget`). That bound
is blind to time: a 2 x 4-GPU pipeline stage of two hours waits behind a 4 x 8-GPU training gang
whose nodes will not drain for five. When every pod on the kept GPUs declares how long it may
run at most (Kubernetes' `activeDeadlineSeconds`: the kubelet ends the pod then), the latest
moment the budgets are all free is known: the reservation. A pod whose own limit ends by then
may take kept GPUs too (EASY backfilling, as batch schedulers do with job time limits): it is
gone before the gang could have started anyway, so the reservation does not move.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping

from scheduler.policy.capacity import NodeCapacity
from scheduler.policy.model import ClusterState

NEVER = math.inf


def reservation_time(
    state: ClusterState, budgets: Mapping[str, int], ends: Mapping[str, float], now: float
) -> float:
    """The latest time every kept node has its budget of usable GPUs free, if each pod on them
    ends by `ends[uid]` (its start plus its declared limit): per node, the budget-th earliest
    time one of its usable GPUs holds no pod (a GPU free now: `now`; a GPU with a pod that
    declared no limit: never); the latest over the nodes. `NEVER` when that is unknown."""
    at = now
    for name, budget in budgets.items():
        if budget <= 0:
            continue
        if name not in state.nodes:
            return NEVER
        times = sorted(
            max((ends.get(uid, NEVER) for uid in g.pods), default=now)
            for g in state.capacity(name).usable_gpus
        )
        if budget > len(times):
            return NEVER
        at = max(at, times[budget - 1])
    return at


def may_backfill(now: float, limit_s: float | None, reserved_at: float) -> bool:
    """Whether a pod that may run `limit_s` seconds at most, started now, ends by the kept
    gang's reservation (so it may use kept GPUs). A pod without a limit never may."""
    return limit_s is not None and reserved_at < NEVER and now + limit_s <= reserved_at


def free_busy_besides(cap: NodeCapacity, backfilled: Collection[str]) -> tuple[int, int]:
    """`scheduler.policy.gang.free_busy`, with a GPU whose pods were all backfilled counted
    free: they leave by the reservation, so the keep need not move off their node."""
    usable = cap.usable_gpus
    free = sum(1 for g in usable if not g.pods or all(u in backfilled for u in g.pods))
    return free, len(usable) - free
