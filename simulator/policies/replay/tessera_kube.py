"""tessera-kube: the tessera replay policy as it runs behind a real kube-scheduler (opt-in).

`TesseraPolicy` plus the three things `kube_host` names: kube-scheduler's own scores and
random tie-break, the extender hearing of a departure after kube-scheduler's first retry, and
a failed gang plan standing for a while. The digital twin (`devcluster/twin`) compares the real
Tessera with this model; the study's `tessera`/`tessera-static` are unchanged.

Retries as kube-scheduler makes them (v1.37.2 `backend/queue`): a pod the extender rejected
goes back to the queue on any cluster event (the extender's wildcard hint) and, since the
active queue is usually empty, is tried again at once (`SchedulerPopFromBackoffQ`); so the
model retries at each arrival and departure, as the plain policy does, and:
- at a departure, first on the state before it (the extender has not seen it yet); if that
  pass bound anything, the binds' own events retry the rest at once, on the new state;
  otherwise the freed room waits for the next event or the leftover flush;
- a gang whose plan failed is not planned again until `gang_failed_hold_s` later, or until
  the extender sees a departure (`hold_until_departure`: the store drops failed plans then)
  or nodes leave the kept set (`keep_release_ends_holds`: the coordinator drops them then);
- a gang gets nodes kept for it at a member's filter (`TesseraPolicy._reserve`) only when the
  extender planned it: not while its plan's failure stands, and not while no node passes
  kube-scheduler's own fit for one member (`gang_needs_host_fit`, `host_fit`); there it takes
  them when none are kept, or (with `keep_pass_s`) from a gang that arrived after it or has a
  lower priority, and plans on the nodes kept for such a gang;
- the keeper's nodes are chosen again before every pass (`keep_follows_drain`: the extender
  chooses them at the first filter after room comes back; off, only at the pass and the
  keeper's own filter, as before round 8);
- with no keep held (its keeper started), the next decision gives it to the first waiting
  gang that does not fit, as the pass would (`keep_in_filters`: the extender's
  `earlier_first` since round 8; off, the gang whose member reached the filter first took
  it, and the first waiting one only at the next pass);
- the extender's periodic pass (`keep_pass_s`, `_keep_pass`) gives the keep to the first
  waiting gang (priority, then arrival) that does not fit and that drained nodes would host,
  whether or not it passes kube-scheduler's fit, as `GangCoordinator.recover` does: run at the
  first event after each tick, on the extender's view at the tick (the event's own arrivals
  and departure not in it);
- a retry is owed by the leftover flush (`KubeHost.flush_at`) when freed room or an expired
  plan failure was not yet offered to the pods waiting: the driver wakes the policy then
  (`wake_at`).
"""

from __future__ import annotations

import math

from scheduler.policy.framework import Profile
from simulator.policies.replay.kube_host import KubeHost
from simulator.policies.replay.tessera import TesseraPolicy
from simulator.policies.replay.tessera_decide import place_pod, plan_gang
from simulator.replay.pending import PendingPods
from simulator.replay.protocol import Start
from simulator.workloads.model import JobSpec, NodeSpec


class TesseraKubePolicy(TesseraPolicy):
    def __init__(self, nodes: tuple[NodeSpec, ...], host: KubeHost, *,
                 dynamic_mig: bool = False, profile: Profile | None = None) -> None:  # fmt: skip
        super().__init__(nodes, dynamic_mig=dynamic_mig, profile=profile)
        self.name = "tessera-kube" if dynamic_mig else "tessera-static-kube"
        self.host = host
        self._specs: dict[str, JobSpec] = {}
        self._late: list[str] = []  # departed jobs the extender has not seen yet
        self._held_until: dict[str, float] = {}  # gang -> when its failed plan lapses
        # Room freed (or a gang held) since the waiting pods' last full look: the flush owes
        # them a retry if no event comes first.
        self._unoffered = False
        self._wake: float | None = None
        self._queue = KubeQueue(host)
        self._pending = self._queue
        self._nodes = {n.name: n for n in nodes}
        self._unplanned: str | None = None  # the gang just tried without reaching the planner
        # The keep pass (`_keep_pass`): each job's arrival (time, order: the store's
        # first-seen order), the next tick, gangs passed over until when (no drained set).
        self._arrival: dict[str, tuple[float, int]] = {}
        self._arrivals = 0
        self._next_pass = 0.0
        self._no_room: dict[str, float] = {}

    def submit(self, job: JobSpec, now: float) -> None:
        self._specs[job.uid] = job
        self._arrivals += 1
        self._arrival[job.uid] = (now, self._arrivals)
        super().submit(job, now)

    def _rank(self, uid: str) -> tuple[int, int]:
        """Where a gang waits for the keep: (-priority, arrival order); lower goes first."""
        job = self._pending.jobs.get(uid)
        arrived = self._arrival.get(uid)
        return (-job.priority if job else 0, arrived[1] if arrived else 1 << 62)

    def finish(self, job_uid: str, now: float) -> None:
        if not self.host.late_departures:
            self._arrival.pop(job_uid, None)
            super().finish(job_uid, now)
            return
        self._pending.drop_job(job_uid)  # its unplaced pods are gone at once
        self._late.append(job_uid)

    def _release(self, now: float) -> tuple[list[Start], bool] | None:
        """The extender sees the departures: their pods' room is free, and the waiting pods
        are retried on it: the starts, and whether a gang held by a failed plan sat out the
        last pass (None: no departure). With `pods_leave_apart` each pod leaves on
        its own, in replica order, with a retry pass after each (KWOK ends each pod at its own
        bind plus the duration, so a gang's pods leave milliseconds apart); else all at once
        and one pass."""
        late, self._late = self._late, []
        if not late:
            return None
        steps: list[tuple[str, list[str], bool]] = []  # (job, its pods leaving, its last step)
        for uid in late:
            pods = [f"{uid}/{i}" for i in range(self._specs[uid].replicas)
                    if f"{uid}/{i}" in self.cluster.allocations]  # fmt: skip
            if self.host.pods_leave_apart and len(pods) > 1:
                steps.extend((uid, [p], i == len(pods) - 1) for i, p in enumerate(pods))
            else:
                steps.append((uid, pods, True))
        out: list[Start] = []
        blind = False
        for i, (uid, pods, last) in enumerate(steps):
            for pod in pods:
                self.cluster.release(pod)
            if last:
                self._specs.pop(uid)
                self._arrival.pop(uid, None)
                self._started.pop(uid, None)
            self._pending.freed = True
            if self.host.hold_until_departure:
                self._held_until.clear()  # the store drops every failed plan at a departure
            if self.host.pods_leave_apart or i == len(steps) - 1:
                blind = bool(self._held_until)
                out.extend(super().schedule(now))
        return out, blind

    def schedule(self, now: float) -> list[Start]:
        self._queue.now = now
        period = self.host.keep_pass_s
        if period > 0 and self.reserve_for_gangs and now >= self._next_pass:  # a tick came
            self._keep_pass(now)
            self._next_pass = (math.floor(now / period + 1e-9) + 1) * period
        for g in [g for g, t in self._held_until.items() if t <= now]:
            del self._held_until[g]
            self._pending.freed = True  # its members are tried again
        blind = bool(self._held_until)  # a held gang does not look at this pass
        out = super().schedule(now)  # on the extender's view: departures of `now` not seen
        if not blind:
            self._unoffered = False
        late = self._release(now)
        if late is not None:
            # Retried at once on the new state: pods whose rejection reason changed (kube-
            # scheduler writes the new reason into the pod; that update requeues it) and all
            # after any bind (its events). A gang whose plan just failed on the old view was
            # held until now; with `hold_until_departure` the departure ended the hold and it
            # plans again here, else its members get the cached reason, the same text, so
            # nothing requeues them.
            out.extend(late[0])
            self._unoffered = late[1]
        self._wake = None
        if self._unoffered and self.has_pending():
            lapse = min(self._held_until.values(), default=now)
            flush = self.host.flush_at(now)
            self._wake = max(flush, lapse) if self.host.flush_after_hold or lapse == now \
                else lapse  # fmt: skip
        return out

    def wake_at(self) -> float | None:
        """When the policy must decide again without an arrival or departure (the leftover
        flush after a retry it owes); None: at the next event."""
        return self._wake

    def _place_task(self, job: JobSpec, idx: int, now: float, only: set[str] | None = None,
                    kept: dict[str, int] | None = None) -> list[Start] | None:  # fmt: skip
        pod = self._pod(job, idx)
        self.demand.observe(pod)
        p = place_pod(self.cluster, pod, now, self.profile, only, kept, self.demand.mix(),
                      self.host)  # fmt: skip
        if p is None:
            return None
        return [self._bind(job, idx, pod, p)]

    def _pass(self, now: float) -> list[Start]:
        self._unplanned = None
        return super()._pass(now)

    def _reserve(self, job: JobSpec, now: float) -> None:
        """As `TesseraPolicy._reserve`, except for a gang the extender did not plan just now
        (its failed plan stands, or no member passed kube-scheduler's own fit): at a filter
        the live extender keeps nodes only for a gang whose plan it has just found
        infeasible. Nodes the keep no longer holds are offered again."""
        if self._unplanned == job.uid:
            self._unplanned = None
            return
        old = self._kept
        super()._reserve(job, now)
        self._offer_dropped(old)

    def _offer_dropped(self, old: tuple[str, dict[str, int]] | None) -> None:
        if old is None or self._kept is old:
            return
        dropped = set(old[1]) - set(self._kept[1] if self._kept else ())
        if dropped:
            self.cluster.freed |= dropped
            self._pending.freed = True
            self._let_go()

    def _let_go(self) -> None:
        """Nodes left the kept set: the extender drops every failed plan then (a gang that
        ranks after the keeper planned without them; `GangCoordinator._set_keep`), so held
        gangs plan again at their next retry (`keep_release_ends_holds`)."""
        if self.host.keep_release_ends_holds and self._held_until:
            self._held_until.clear()
            self._pending.freed = True

    def _follows_drain(self) -> bool:
        """The keeper's nodes chosen again before every pass (`KubeHost.keep_follows_drain`,
        the extender since round 8) or only at the keep pass and the keeper's own filter."""
        return self.host.keep_follows_drain

    def _may_take_keep(self, job: JobSpec) -> bool:
        """At a member's filter (`GangCoordinator.ensure_plan`): when none are kept, or, with
        the keep pass, from a gang that waits after this one."""
        kept = self._kept
        if kept is None or self.host.keep_pass_s <= 0:
            return kept is None
        return kept[0] == job.uid or self._rank(job.uid) < self._rank(kept[0])

    def _excluded(self, job: JobSpec) -> dict[str, int]:
        """A gang that waits before the keeper plans on its nodes too (with the keep pass).
        With none kept, the gangs waiting before `job` get the keep first, as the pass would
        give it (`keep_in_filters`: the extender's `earlier_first` before any GPU pod's
        decision, round 8)."""
        if (self.host.keep_in_filters and self._kept is None and self.reserve_for_gangs
                and self.host.keep_pass_s > 0 and job.task.gpu is not None):  # fmt: skip
            self._keep_pass(self._queue.now, before=self._rank(job.uid))
        kept = self._kept
        if (self.host.keep_pass_s > 0 and kept is not None and job.min_member > 1
                and self._started.get(job.uid, 0) == 0
                and self._rank(job.uid) < self._rank(kept[0])):  # fmt: skip
            return {}
        return super()._excluded(job)

    def _keep_pass(self, now: float, before: tuple[int, int] | None = None) -> None:
        """`GangCoordinator.recover`'s keep pass on the extender's view at the tick: the first
        `keep_examined` waiting gangs by rank that arrived before `now`; the first that does
        not fit and that drained nodes would host gets the keep (renewed and recomputed when
        it is the keeper's); a keeper that fits keeps it; a gang with no drained set is
        passed over for `no_room_retry_s`. `before`: only gangs that rank before it."""
        jobs = self._pending.jobs
        self._no_room = {u: t for u, t in self._no_room.items() if t > now and u in jobs}
        waiting = sorted(
            (self._rank(u), u) for u, j in jobs.items()
            if j.min_member > 1 and self._started.get(u, 0) == 0
            and self._arrival.get(u, (now, 0))[0] < now
            and (before is None or self._rank(u) < before)
        )  # fmt: skip
        examined = 0
        for rank, uid in waiting:
            kept = self._kept
            if examined >= self.host.keep_examined or (
                kept is not None and kept[0] != uid and self._rank(kept[0]) < rank
            ):
                return  # the budget is spent, or an earlier gang keeps nodes
            if uid in self._no_room:
                continue
            examined += 1
            job = jobs[uid]
            pods = [self._pod(job, i) for i in range(job.min_member)]
            if plan_gang(self.cluster, pods, now, self.profile, f"sim/{uid}")[1] is not None:
                if kept is not None and kept[0] == uid:
                    return  # it fits now: it keeps its nodes until it starts
                continue  # kube-scheduler places it
            priority = self._kept_priority
            self._kept = None
            TesseraPolicy._reserve(self, job, now)
            if self._kept is not None:
                self._offer_dropped(kept)
                return
            self._no_room[uid] = now + self.host.no_room_retry_s
            if kept is not None and kept[0] != uid:
                self._kept, self._kept_priority = kept, priority
            else:
                self._offer_dropped(kept)

    def host_fit(self, job: JobSpec) -> bool:
        """Whether one member passes kube-scheduler's NodeResourcesFit on some node, on
        kube-scheduler's view (departures the extender has not seen yet are gone there): CPU,
        memory and, for whole GPUs, the device plugin's `nvidia.com/gpu` counter (the node's
        GPUs with MIG off less the whole GPUs held there). Shares ask `tessera.io/gpu-milli`,
        which kube-scheduler ignores; MIG gangs are not checked (none in the bundled traces)."""
        gpu, late = job.task.gpu, set(self._late)
        for name, spec in self._nodes.items():
            cpu, mem, whole = job.task.cpu_milli, job.task.memory_bytes, 0
            for a in self.cluster.on_node(name):
                task = self._specs[a.uid.rsplit("/", 1)[0]].task
                if a.uid.rsplit("/", 1)[0] in late:
                    cpu, mem = cpu - task.cpu_milli, mem - task.memory_bytes
                elif all(g.profile is None and g.milli is None for g in a.placement.gpus):
                    whole += len(a.placement.gpus)
            if not self.cluster.fits_host(name, cpu, mem):
                continue
            if gpu is None or gpu.kind != "whole" or spec.gpus - spec.mig_gpus - whole >= gpu.count:
                return True
        return False

    def _place_gang(self, job: JobSpec, now: float,
                    kept: dict[str, int] | None = None) -> list[Start] | None:  # fmt: skip
        if job.uid in self._held_until or (self.host.gang_needs_host_fit
                                           and not self.host_fit(job)):  # fmt: skip
            if self.host.gang_needs_host_fit:
                self._unplanned = job.uid
            return None
        placed = super()._place_gang(job, now, kept)
        if placed is None and self.host.gang_failed_hold_s > 0:
            self._held_until[job.uid] = now + self.host.gang_failed_hold_s
        return placed


class KubeQueue(PendingPods):
    """The waiting pods in the order kube-scheduler tries them (`KubeHost.queue_key`): each
    job's failures (its first member stands for a gang) and when it last failed; pods whose
    keys tie go in the order of their own last failure (or creation), as kube-scheduler's
    queues compare each pod's timestamp, so a pass's order carries into the next pass."""

    def __init__(self, host: KubeHost) -> None:
        super().__init__()
        self.host = host
        self.now = 0.0
        self.fails: dict[str, int] = {}
        self.last: dict[str, float] = {}  # job -> last failure (creation before any)
        # job -> task -> rank of the pod's last failure (its creation before any) among all.
        self.stamp: dict[str, dict[int, int]] = {}
        self._seq = 0

    def _next(self) -> int:
        self._seq += 1
        return self._seq

    def add(self, job: JobSpec, now: float) -> None:
        super().add(job, now)
        self.last.setdefault(job.uid, now)
        stamps = self.stamp.setdefault(job.uid, {})
        for i in range(job.replicas):
            stamps[i] = self._next()

    def drop_job(self, uid: str) -> None:
        super().drop_job(uid)
        self.fails.pop(uid, None)
        self.last.pop(uid, None)
        self.stamp.pop(uid, None)

    def keep(self, item: tuple[int, float, str, int]) -> None:
        super().keep(item)
        uid = item[2]
        if self.last.get(uid) != self.now or uid not in self.fails:  # once per pass
            self.fails[uid] = self.fails.get(uid, 0) + 1
            self.last[uid] = self.now
        self.stamp.setdefault(uid, {})[item[3]] = self._next()

    def batch(self) -> list[tuple[tuple[int, float, str, int], bool]]:
        items = super().batch()
        if not self.host.backoff_order:
            return items

        def key(entry: tuple[tuple[int, float, str, int], bool]) -> tuple[object, ...]:
            (neg_prio, arrival, uid, idx), _fresh = entry
            order = self.host.queue_key(self.now, -neg_prio, self.fails.get(uid, 0),
                                        self.last.get(uid, arrival))  # fmt: skip
            return (*order, self.stamp.get(uid, {}).get(idx, 0), uid, idx)

        return sorted(items, key=key)
