"""The extender's decision path, called as `scheduler.state.extender.Extender` calls it.

filter: `run_filters`; prioritize: `run_scores` (each takes the plugins' batch path when it
can, as in the extender); bind: the exact `choose_placement`; gangs:
`scheduler.policy.gang.plan_members` (CP-SAT, then its greedy).
kube-scheduler's own NodeResourcesFit (CPU, memory) runs before the extender and picks the
highest extender score (ties: node order), as a kube-scheduler whose other plugins tie would.
A pod without GPUs is not Tessera's to decide (the extender passes every node and scores them
all 0), so kube-scheduler's own LeastAllocated score over CPU and memory picks its node.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from scheduler.policy.demand import DemandMix
from scheduler.policy.framework import Profile, choose_placement, run_filters, run_scores
from scheduler.policy.gang import DrainMemo, drain_budgets, plan_members, within_budget
from scheduler.policy.model import ClusterState, Placement, PodRequest
from simulator.cluster.resources import CPU, MEMORY
from simulator.cluster.state import SimCluster
from simulator.policies.replay.kube_default import least_allocated

if TYPE_CHECKING:
    from simulator.policies.replay.kube_host import KubeHost

# CP-SAT gang planning: one worker, fixed seed; the limit only matters for hard instances.
GANG_TIME_LIMIT_S = 1.0


def feasible_nodes(
    state: ClusterState, pod: PodRequest, names: list[str], profile: Profile
) -> list[str]:
    if pod.gpu is None:
        return names
    return run_filters(state, pod, names, profile).passed


def host_least_allocated(cluster: SimCluster, pod: PodRequest, names: list[str]) -> str:
    """kube-scheduler's NodeResourcesFit LeastAllocated (CPU, memory); first maximum wins."""
    want = {CPU: pod.cpu_milli, MEMORY: pod.memory_bytes}

    def score(name: str) -> int:
        node = cluster.nodes[name]
        cap = {CPU: node.cpu_milli, MEMORY: node.memory_bytes}
        return least_allocated(
            cap, {CPU: cluster.cpu_used[name], MEMORY: cluster.mem_used[name]}, want
        )

    return max(names, key=score)


def best_node(state: ClusterState, pod: PodRequest, names: list[str], profile: Profile) -> str:
    ints = run_scores(state, pod, names, profile).ints
    return names[ints.index(max(ints))]  # first maximum: node order breaks ties


def place_pod(
    cluster: SimCluster,
    pod: PodRequest,
    now: float,
    profile: Profile,
    only: set[str] | None = None,
    kept: Mapping[str, int] | None = None,
    demand: DemandMix | None = None,
    host: KubeHost | None = None,
) -> Placement | None:
    """One pod: host fit, extender filter and score, exact placement on the winner. `kept`:
    nodes kept for a waiting gang with their GPU budgets (`scheduler.policy.gang.drain_budgets`);
    the pod goes there only `within_budget`, as the extender's filter decides it. `demand`: the
    pods seen so far (`scheduler.policy.demand`), which the extender's views carry. `host`:
    kube-scheduler's own scores and random tie-break added (`kube_host`; the twin's model)."""
    state = cluster.snapshot(now, demand)
    hosts = cluster.hosts([(pod.cpu_milli, pod.memory_bytes)], only)
    ok = feasible_nodes(state, pod, hosts, profile)
    if kept:
        ok = [n for n in ok if n not in kept or within_budget(state, pod, n, kept[n])]
    if not ok:
        return None
    if host is not None:
        ints = None if pod.gpu is None else run_scores(state, pod, ok, profile).ints
        node = host.pick(cluster, ok, pod.cpu_milli, pod.memory_bytes, ints)
        return choose_placement(state, pod, state.nodes[node])
    if pod.gpu is None:
        return choose_placement(state, pod, state.nodes[host_least_allocated(cluster, pod, ok)])
    return choose_placement(state, pod, state.nodes[best_node(state, pod, ok, profile)])


def plan_gang(
    cluster: SimCluster,
    members: Sequence[PodRequest],
    now: float,
    profile: Profile,
    gang: str,
    kept: Mapping[str, int] | None = None,
) -> tuple[str, list[Placement] | None]:
    """The planner's status and every member's placement, or None (all-or-nothing).

    The planner does not weigh CPU and memory, so each slot is also checked against the
    host's free CPU and memory (cumulatively); a plan that overflows them is not used
    (status "host-misfit"). "feasible" or "greedy" means CP-SAT stopped at its time limit.
    `kept`: nodes kept for another gang; this gang plans without them (a plan within their
    budgets was tried: it made pipelines and training wait longer on the study's seeds 0-4).
    """
    exclude = frozenset(kept or ())
    state = cluster.snapshot(now)
    # kube-scheduler only offers the extender nodes its own CPU/memory fit passed.
    asks = {(m.cpu_milli, m.memory_bytes) for m in members}  # members mostly ask alike
    hosts = cluster.hosts(asks, exclude=exclude)
    if not hosts:
        return "no-host", None
    plan = plan_members(state, members, hosts, profile, gang=gang, time_limit_s=GANG_TIME_LIMIT_S)
    if plan.status == "infeasible" or len(plan.slots) != len(members):
        return "infeasible", None
    cpu: dict[str, int] = {}
    mem: dict[str, int] = {}
    for pod, slot in zip(members, plan.slots, strict=True):
        cpu[slot.node] = cpu.get(slot.node, 0) + pod.cpu_milli
        mem[slot.node] = mem.get(slot.node, 0) + pod.memory_bytes
        if not cluster.fits_host(slot.node, cpu[slot.node], mem[slot.node]):
            return "host-misfit", None
    return plan.status, list(plan.slots)


def gang_drain_targets(
    cluster: SimCluster,
    members: Sequence[PodRequest],
    now: float,
    profile: Profile,
    memo: DrainMemo | None = None,
) -> dict[str, int]:
    """Nodes to keep for a gang that did not fit, with their GPU budgets: the policy core's
    choice among the nodes whose CPU and memory could host a member once drained (`memo`:
    one per gang, kept while it waits; see `drain_budgets`)."""
    state = cluster.snapshot(now)
    hosts = cluster.hosts_drained((m.cpu_milli, m.memory_bytes) for m in members)
    return drain_budgets(state, members, hosts, profile, memo)
