"""Filter: keep pods off unhealthy GPUs, and say which GPU failed which check.

Unhealthy = a critical XID inside the window, uncorrectable ECC errors, a failed row remap, or a
temperature at or above the limit (the rules and their defaults: `scheduler.policy.rules`).
These are unresolvable (preemption cannot repair a GPU); XIDs that applications cause are not
faults. The capacity view already skips GPUs that telemetry flagged
(telemetry applies the same thresholds); this filter names the reasons in
`FailedAndUnresolvableNodes`, and passes a node only if the placement it would really get
avoids every GPU these thresholds call unhealthy.
Missing health data is healthy: telemetry must never block scheduling.
"""

from __future__ import annotations

from scheduler.policy import fit
from scheduler.policy.capacity import NodeCapacity
from scheduler.policy.interfaces import CycleState, RowVerdicts
from scheduler.policy.model import ClusterState, Node, PodRequest
from scheduler.policy.rules import (
    DEFAULT_MAX_TEMPERATURE_C,
    NON_FATAL_XIDS,
    HealthThresholds,
    gpu_health_reasons,
)
from scheduler.policy.status import SUCCESS, Status, unresolvable, unschedulable

__all__ = ["NON_FATAL_XIDS", "HealthFilter", "HealthThresholds", "gpu_health_reasons"]


class HealthFilter:
    name = "GpuHealth"
    state_only = True  # filter_rows reads only the row's index columns (ScorePlugin)

    def __init__(self, thresholds: HealthThresholds | None = None) -> None:
        self.thresholds = thresholds or HealthThresholds()

    def filter(self, state: ClusterState, pod: PodRequest, node: Node) -> Status:
        if pod.gpu is None:
            return SUCCESS
        bad = {g.index: r for g in node.gpus if (r := gpu_health_reasons(g, self.thresholds))}
        if not bad:
            return SUCCESS
        chosen = fit.choose(state.capacity(node.name), pod)
        if chosen is not None and not any(g.index in bad for g in chosen.gpus):
            return SUCCESS  # the placement the node would really get avoids every bad GPU
        reasons = tuple(f"GPU {i}: {'; '.join(r)}" for i, r in sorted(bad.items()))
        if fit.choose(self._healthy_view(node, state), pod) is not None:
            # Only when the snapshot did not flag a GPU these thresholds find unhealthy (a raw
            # temperature without `over_temperature`): the placement would land on it.
            return unschedulable("placement would use a GPU not flagged unhealthy", *reasons)
        if fit.choose(self._healthy_view(node, None), pod) is not None:
            # The healthy GPUs could hold the pod once freed: "not now", not "never".
            return unschedulable("healthy GPUs are busy", *reasons)
        return unresolvable(*reasons)

    def _healthy_view(self, node: Node, state: ClusterState | None) -> NodeCapacity:
        """The node's capacity with every unhealthy GPU offering nothing (None: no allocations)."""
        allocs = state.allocations_on(node.name) if state is not None else ()
        cap = NodeCapacity.build(node, allocs)
        for g in cap.gpus:
            if gpu_health_reasons(g.gpu, self.thresholds):
                g.faulted = True
        return cap

    def filter_rows(self, cycle: CycleState) -> RowVerdicts | None:
        """Every row passes except those the index cannot clear: a GPU with any health signal
        under the default thresholds is already an index `slow` row (judged per node); under a
        lower temperature limit, a node whose hottest GPU reaches it is sent there too, so any
        `max_temperature_c` keeps the batch path."""
        limit = self.thresholds.max_temperature_c
        if cycle.pod.gpu is None or limit >= DEFAULT_MAX_TEMPERATURE_C:
            return RowVerdicts.all_pass()
        return RowVerdicts.all_pass(exact=cycle.index.hot[cycle.rows] >= limit)
