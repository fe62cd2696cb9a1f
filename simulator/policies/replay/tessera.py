"""tessera: the shipped policy core (`scheduler.policy`) deciding every placement in replay.

Per event, like kube-scheduler calling the extender (`tessera_decide`: the extender's own
filter/score/placement calls on the registry's default profile). Gangs are all-or-nothing
through the policy core's gang planner; members beyond min_member go one by one. Pending pods
wait in priority then arrival order. The first gang that does not fit gets nodes kept for it,
a GPU budget on each (`scheduler.policy.gang.drain_budgets`), as the live extender keeps them
(`scheduler.state.gangs`): without that, a gang of whole nodes waited while smaller pods took
every GPU that freed up (benchmarks/RESULTS.md, the study's root cause).
In dynamic-MIG mode MIG requests ask for new instances; each one created counts as a
reconfiguration.
"""

from __future__ import annotations

from dataclasses import replace

from scheduler.policy.capacity import GpuCapacity
from scheduler.policy.demand import DemandLog
from scheduler.policy.framework import Profile
from scheduler.policy.gang import DrainMemo
from scheduler.policy.model import MILLI_PER_GPU, GangRef, Placement, PodRequest
from scheduler.policy.registry import default_profile
from simulator.cluster.invariants import over_allocation
from simulator.cluster.state import SimCluster
from simulator.policies.replay.tessera_decide import gang_drain_targets, place_pod, plan_gang
from simulator.replay.pending import PendingPods
from simulator.replay.protocol import Start, Usage, demand_milli
from simulator.workloads.model import JobSpec, NodeSpec


class TesseraPolicy:
    period_s: float | None = None

    def __init__(
        self,
        nodes: tuple[NodeSpec, ...],
        *,
        dynamic_mig: bool = True,
        profile: Profile | None = None,
        reserve_for_gangs: bool = True,
    ) -> None:
        self.name = "tessera" if dynamic_mig else "tessera-static"
        self.dynamic = dynamic_mig
        self.cluster = SimCluster(nodes, dynamic_mig=dynamic_mig)
        self.profile = profile or default_profile()
        self._model = {n.name: n.gpu_model for n in nodes}
        self._pending = PendingPods()
        # The pods seen so far, as the extender's DemandLog counts them: its views carry the mix
        # for single pods (gang plans use the plain snapshot, live as here).
        self.demand = DemandLog()
        self._started: dict[str, int] = {}
        self.gang_plans: dict[str, int] = {}  # planner outcomes, by status
        self.reserve_for_gangs = reserve_for_gangs
        self._kept: tuple[str, dict[str, int]] | None = None  # gang, node -> GPUs kept
        self._released: frozenset[str] = frozenset()
        self._kept_priority = 0
        # Per gang shape (task, members): gangs of one shape build the same members, so they
        # share where those land on drained nodes (see drain_budgets).
        self._drain_memo: dict[tuple[object, int], DrainMemo] = {}
        # The last answer per gang shape and the cluster's change count it was made at: a pass
        # that follows a pass with no bind or release asks the same question again.
        self._drain_last: dict[tuple[object, int], tuple[int, dict[str, int]]] = {}

    def submit(self, job: JobSpec, now: float) -> None:
        self._pending.add(job, now)

    def finish(self, job_uid: str, now: float) -> None:
        job = self._pending.jobs[job_uid]
        for i in range(job.replicas):
            if f"{job_uid}/{i}" in self.cluster.allocations:
                self.cluster.release(f"{job_uid}/{i}")
        self._started.pop(job_uid, None)
        self._pending.drop_job(job_uid)

    def _pod(self, job: JobSpec, idx: int) -> PodRequest:
        gpu = job.task.gpu
        if gpu is not None and gpu.kind == "mig":
            gpu = replace(gpu, dynamic=self.dynamic)
        gang = GangRef(f"sim/{job.uid}", job.min_member) if job.min_member > 1 else None
        return PodRequest(
            f"sim/{job.uid}-{idx}",
            f"{job.uid}/{idx}",
            gpu,
            job.task.cpu_milli,
            job.task.memory_bytes,
            gang=gang,
            priority=job.priority,
        )

    def schedule(self, now: float) -> list[Start]:
        out: list[Start] = []
        while True:  # again when a kept-for-gang set was let go, so its room is offered
            out.extend(self._pass(now))
            if not self._released:
                return out
            self.cluster.freed |= self._released
            self._pending.freed = True
            self._released = frozenset()

    def _pass(self, now: float) -> list[Start]:
        out: list[Start] = []
        if self._kept is not None and self._follows_drain():  # whichever nodes drain first
            gang, old = self._kept
            self._kept = None
            self._reserve(self._pending.jobs[gang], now)
            dropped = set(old) - set(self._kept[1] if self._kept else ())
            if dropped:
                self.cluster.freed |= dropped
                self._pending.freed = True
                self._let_go()
        failed: set[object] = set()  # (shape, fresh) that found no node in this pass
        tried_gangs: set[str] = set()
        freed, self.cluster.freed = self.cluster.freed, set()
        for item, fresh in self._pending.batch():
            uid, idx = item[2], item[3]
            job = self._pending.jobs[uid]
            if uid in tried_gangs or f"{uid}/{idx}" in self.cluster.allocations:
                continue  # a gang's pods are all handled with its first member
            gang_start = job.min_member > 1 and self._started.get(uid, 0) == 0
            if gang_start:
                tried_gangs.add(uid)
            # Gangs always look at every node: members may use old room plus freed room.
            fresh = fresh or gang_start
            kept = self._excluded(job)
            shape = (job.task, job.min_member if gang_start else 1, bool(kept))
            if (shape, True) in failed or (shape, fresh) in failed:
                placed = None
            elif gang_start:
                placed = self._place_gang(job, now, kept)
            else:
                placed = self._place_task(job, idx, now, None if fresh else freed, kept)
            if placed is None:
                failed.add((shape, fresh))
                self._keep(job, idx, item, gang_start)
                if gang_start and self.reserve_for_gangs and self._may_take_keep(job):
                    self._reserve(job, now)
                continue
            if self._kept is not None and self._kept[0] == uid:
                self._released, self._kept = frozenset(self._kept[1]), None
                self._let_go()
            out.extend(placed)
        return out

    def _reserve(self, job: JobSpec, now: float) -> None:
        """Keep nodes for the first gang (priority, then arrival order) that does not fit: the
        policy core's `drain_budgets`, recomputed every pass so the set follows whichever
        nodes drain first. Pods of the gang's priority or lower go there only within the
        node's budget (`within_budget`), other gangs not at all, until it starts;
        higher-priority pods still do (they would preempt it in Kubernetes anyway)."""
        shape = (job.task, job.min_member)
        last = self._drain_last.get(shape)
        if last is not None and last[0] == self.cluster.changes:
            nodes = dict(last[1])
        else:
            members = [self._pod(job, i) for i in range(job.min_member)]
            memo = self._drain_memo.setdefault(shape, {})
            nodes = gang_drain_targets(self.cluster, members, now, self.profile, memo)
            self._drain_last[shape] = (self.cluster.changes, dict(nodes))
        if nodes:
            self._kept = (job.uid, nodes)
            self._kept_priority = job.priority

    def _let_go(self) -> None:
        """Hook: nodes just left the kept set (the keeper started, or the set moved)."""

    def _follows_drain(self) -> bool:
        """Hook: whether the keeper's nodes are chosen again before every pass (here always,
        as the live extender does at the first filter after room comes back)."""
        return True

    def _may_take_keep(self, job: JobSpec) -> bool:
        """Whether a gang that just failed to start may get the nodes kept: here only when
        none are kept (the first gang that failed keeps them until it starts)."""
        return self._kept is None

    def _excluded(self, job: JobSpec) -> dict[str, int]:
        if self._kept is None or self._kept[0] == job.uid or job.priority > self._kept_priority:
            return {}
        return self._kept[1]

    def _keep(self, job: JobSpec, idx: int, item: tuple[int, float, str, int], gang: bool) -> None:
        if not gang:
            self._pending.keep(item)
            return
        for i in range(job.replicas):
            self._pending.keep((item[0], item[1], job.uid, i))

    def _place_task(
        self, job: JobSpec, idx: int, now: float, only: set[str] | None = None,
        kept: dict[str, int] | None = None,
    ) -> list[Start] | None:
        pod = self._pod(job, idx)
        self.demand.observe(pod)
        p = place_pod(self.cluster, pod, now, self.profile, only, kept, self.demand.mix())
        if p is None:
            return None
        return [self._bind(job, idx, pod, p)]

    def _place_gang(
        self, job: JobSpec, now: float, kept: dict[str, int] | None = None
    ) -> list[Start] | None:
        """All-or-nothing: the gang planner's slots for min_member pods, else nothing."""
        pods = [self._pod(job, i) for i in range(job.min_member)]
        for pod in pods:  # each member's filter is a view of the extender's: counted once
            self.demand.observe(pod)
        status, slots = plan_gang(self.cluster, pods, now, self.profile, f"sim/{job.uid}",
                                  kept)
        self.gang_plans[status] = self.gang_plans.get(status, 0) + 1
        if slots is None:
            return None
        done = [self._bind(job, i, pod, p) for i, (pod, p) in enumerate(zip(pods, slots,
                                                                           strict=True))]
        for i in range(job.min_member, job.replicas):  # elastic extras: one by one
            more = self._place_task(job, i, now, None, kept)
            if more is None:
                self._pending.keep((-job.priority, now, job.uid, i))
            else:
                done.extend(more)
        return done

    def _bind(self, job: JobSpec, idx: int, pod: PodRequest, p: Placement) -> Start:
        self.cluster.bind(
            pod.uid, p, pod.cpu_milli, pod.memory_bytes, gang=pod.gang.name if pod.gang else None
        )
        self._started[job.uid] = self._started.get(job.uid, 0) + 1
        created = sum(1 for g in p.gpus if g.profile is not None and self.dynamic)
        held = demand_milli(job.task, self._model[p.node])
        return Start(job.uid, idx, p.node, held, created)

    def has_pending(self) -> bool:
        return len(self._pending) > 0

    def usage(self) -> Usage:
        idle = free_slices = 0
        state = self.cluster.snapshot(0.0)
        for name in self.cluster.order:
            cap = state.capacity(name)
            for g in cap.usable_gpus:
                if not g.gpu.mig_enabled:
                    idle += g.free_milli == MILLI_PER_GPU
                elif g.model is not None:
                    free_slices += _free_slices(g)
        return Usage(idle, free_slices)

    def check(self) -> str | None:
        return over_allocation(self.cluster)

    def extra_metrics(self) -> dict[str, object]:
        """Gang planner outcomes: "feasible"/"greedy" counts say CP-SAT hit its time limit,
        the one place where a replay could depend on the machine's speed."""
        return {"gang_plans": dict(sorted(self.gang_plans.items()))}


def _free_slices(g: GpuCapacity) -> int:
    """Memory slices on a MIG GPU not held by a pod (free static instances count as free)."""
    assert g.model is not None
    free = set(g.free_static)
    used = sum(g.model.profile(i.profile).memory_slices for i in g.occupied if i not in free)
    return g.model.memory_slices - used
