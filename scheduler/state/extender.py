"""The `Extender` facade: filter / prioritize / bind / preempt / explain on plain dicts.

The HTTP edge (scheduler/api) decodes the wire format and calls this; the Kubernetes edge
(scheduler/kube) implements `Binder`. Reservations (see `reservations.py`):
- filter reserves when exactly one node passes (the decision is then made), and gang planning
  reserves every slot of the gang;
- bind confirms the pod's reservation on that node, or makes one atomically (check-and-reserve
  under the store lock, so two binds can never take the same GPU), then calls the `Binder`
  outside the lock; a Binder failure releases the hold;
- the hold lasts until the watch shows the pod bound (its annotation then speaks for it), the
  pod is deleted, or its TTL passes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from scheduler.policy.capacity import placement_conflicts
from scheduler.policy.cluster_fragmentation import cluster_fragmentation
from scheduler.policy.demand import DemandLog
from scheduler.policy.framework import Profile, choose_placement, run_filters, run_scores
from scheduler.policy.gang import within_budget
from scheduler.policy.model import Allocation, ClusterState, Placement, PodRequest
from scheduler.policy.preemption import minimal_victims
from scheduler.policy.registry import default_profile
from scheduler.policy.results import FilterResult
from scheduler.state.bind_verb import Binder, BindError, BindVerb
from scheduler.state.errors import PodParseError, StateError
from scheduler.state.gangs import GangCoordinator
from scheduler.state.pod_records import forged
from scheduler.state.pods import parse_pod
from scheduler.state.store import ClusterStore

__all__ = ["BindError", "Binder", "Extender", "Timing"]  # (the bind verb's types, re-exported)


@dataclass(frozen=True, slots=True)
class Timing:
    reservation_ttl_s: float = 30.0  # a filter/bind decision not yet bound
    unwatched_ttl_s: float = 5.0  # ... for a pod the watch has not delivered (`_hold_ttl`)
    bound_ttl_s: float = 300.0  # bind succeeded, the watch has not shown it yet
    gang_ttl_s: float = 120.0  # a gang plan waiting for its members
    # How long a bind of a pod the watch has not delivered yet waits for it (wall seconds):
    # kube-scheduler may bind a pod created milliseconds before (its filter needs no store).
    bind_wait_s: float = 1.0
    # At most this many binds wait at once (each holds a server thread); the rest answer at
    # once, so a burst of binds for pods nobody created cannot occupy the thread pool.
    bind_waiters: int = 4


class Extender(BindVerb):
    def __init__(
        self,
        store: ClusterStore,
        binder: Binder | None = None,
        profile: Profile | None = None,
        *,
        clock: Callable[[], float] = time.time,
        timing: Timing = Timing(),
        telemetry: Callable[[ClusterState], ClusterState] | None = None,
        fold_request_nodes: bool = False,
        choose_in_filter: bool = False,
    ) -> None:
        self.store = store
        # true: a GPU pod's filter passes only its best-scoring node (see `_choose`), so
        # kube-scheduler, with one feasible node, skips scoring and the prioritize call.
        self.choose_in_filter = choose_in_filter
        # nodeCacheCapable: true (the default) -> Nodes in a request never change the cache
        # (issue 11, finding 2); false -> they are folded when newer than the cache's copy.
        self.fold_request_nodes = fold_request_nodes
        # Folds live GPU health/load into each snapshot (scheduler.telemetry's TelemetryHub.overlay,
        # wired by the service; None = allocation only).
        self.telemetry = telemetry
        self.binder: Binder | None = binder
        self.profile = profile or default_profile()
        self.clock = clock
        self.timing = timing
        self.gangs = GangCoordinator(store, self.profile, timing.gang_ttl_s, telemetry)
        # The pods seen so far, as the watch delivers them (so a relist after a restart counts
        # the cluster's pods again, and a request body alone never skews the mix): the default
        # profile's fragmentation and reserve scorers judge against their mix
        # (scheduler.policy.demand).
        self.demand = DemandLog()
        self._demand_lock = threading.Lock()
        self._bind_waiters = threading.BoundedSemaphore(max(self.timing.bind_waiters, 1))
        # Pods whose bind is between its decision and the Binder's answer (by UID): a second
        # bind of the same pod meanwhile is refused (`bind`).
        self._binding: set[str] = set()
        with store.lock:
            for rec in store.pods():
                self._observe(rec.request)
            store.new_pod_listeners.append(self._observe)
        # Views that hide held allocations, per set of hidden keys, with the memo of the
        # snapshot they came from (see `view`); replaced, never mutated, for concurrent verbs.
        self._views: dict[frozenset[str], tuple[dict[str, Any], ClusterState]] = {}

    # ---- helpers -------------------------------------------------------------------------
    def _pod(self, pod: Mapping[str, Any]) -> PodRequest:
        req = parse_pod(pod, self.store.min_members())
        if self._is_slot_key(req.uid):
            raise PodParseError(
                f"pod {req.key}: metadata.uid {req.uid[:60]!r} is a gang slot's key, not a UID"
            )
        owner = self.store.pod(req.uid)
        if owner is not None and owner.request.uid == req.uid and owner.request.key != req.key:
            # Decided as that pod's: the longer hold of a watched pod, replacing its own.
            raise PodParseError(f"pod {req.key}: metadata.uid is pod {owner.request.key}'s")
        return req

    def _is_slot_key(self, uid: str) -> bool:
        """`uid` is a gang slot's ledger key (`slot_key`): a pod under it would take the
        slot's hold as its own (a filter's view hid it, its reservation replaced it)."""
        held = self.store.ledger.peek(uid) if uid else None
        return held is not None and held.gang is not None

    def _learn_nodes(self, nodes: Sequence[Mapping[str, Any]] | None) -> None:
        if not self.fold_request_nodes:
            return
        for n in nodes or ():
            self.store.fold_request_node(n)

    def _observe(self, pod: PodRequest) -> None:
        with self._demand_lock:
            self.demand.observe(pod)

    def view(self, pod: PodRequest, now: float) -> ClusterState:
        """The snapshot as this pod sees it: without its own holds (and its gang's free slots),
        with the demand of the pods the watch has delivered so far."""
        with self._demand_lock:
            mix = self.demand.mix()
        return replace(self._view(pod, now), demand=mix)

    def _view(self, pod: PodRequest, now: float) -> ClusterState:
        snap = self.store.snapshot(now)
        if self.telemetry is not None:
            snap = self.telemetry(snap)
        own = {pod.uid, *self.gangs.free_slot_keys(snap, pod)}
        hidden = frozenset(k for k in own if k in snap.allocations)
        if not hidden:
            return snap
        # The same snapshot (the store and the telemetry overlay hand out its memo dicts
        # again until something changes) and the same hidden keys give the same view: reuse
        # it, so a gang member's filter, prioritize and retries pay for one view, not each.
        hit = self._views.get(hidden)
        if hit is not None and hit[0] is snap._fleet:
            return replace(hit[1], now=now)  # shares the cached view's memos
        if pod.gpu is not None:
            # The view below updates the shared snapshot's fleet index row by row; built only
            # on the view, every later snapshot would index the whole fleet again (a gang
            # member's or a reserved pod's every request).
            snap.fleet()
        view = snap.without(set(hidden))
        kept = {k: e for k, e in self._views.items() if e[0] is snap._fleet}
        self._views = {**dict(list(kept.items())[-7:]), hidden: (snap._fleet, view)}
        return view

    # ---- verbs ---------------------------------------------------------------------------
    def filter(
        self,
        pod: Mapping[str, Any],
        node_names: Sequence[str],
        nodes: Sequence[Mapping[str, Any]] | None = None,
    ) -> FilterResult:
        try:
            self._learn_nodes(nodes)
            req = self._pod(pod)
        except StateError as exc:
            return FilterResult([], error=str(exc))
        names = list(dict.fromkeys(node_names))  # a name twice is one node: decide once
        if req.gpu is None:
            return FilterResult(names)  # not a GPU pod: nothing for us to decide
        now = self.clock()
        outcome = None
        if req.gang is not None:
            outcome = self.gangs.plan_or_fail(req, now, ttl_s=self._plan_ttl(req))
        else:
            self.gangs.earlier_first(req, now)  # gangs waiting before it that fit now go first
        state = self.view(req, now)
        passed, failed, unresolvable = self._verdicts(state, req, names)
        if outcome is None:  # a gang that planned (or failed) already kept out of kept nodes
            passed = self._within_kept(state, req, now, passed, failed)
        chosen_away: dict[str, str] = {}
        if self.choose_in_filter and len(passed) > 1 and req.gang is None:
            passed = self._choose(state, req, passed, chosen_away)
        reserved = None
        if len(passed) == 1 and req.gang is None:
            reserved = self._reserve(req, passed[0], now, self._hold_ttl(req))
            if reserved is None:
                failed[passed[0]] = "GPUs taken by a concurrent decision"
                passed = []
        if not passed and chosen_away:
            # No node left: kube-scheduler's FitError reads every node's status, and a node
            # absent from its NodeToStatus reads as UnschedulableAndUnresolvable (no
            # preemption there), so the nodes chosen away go back into FailedNodes.
            failed.update(chosen_away)
            chosen_away = {}
        if outcome == "planned" and not passed:
            outcome = "failed"
        return FilterResult(passed, failed, unresolvable, "", outcome, reserved,
                            chosen_away, names=names)  # fmt: skip

    def _hold_ttl(self, req: PodRequest) -> float:
        """How long a filter's decision is held: `reservation_ttl_s` for a pod the watch
        delivered (or with no watch, snapshot mode), at most `unwatched_ttl_s` for one it has
        not: 32 filters for pods nobody created held all 32 GPUs of a cluster for 30 s. A
        genuine pod the watch lags on is bound well within it; past it, its bind checks and
        reserves atomically, as any bind without a hold."""
        if self.binder is None or self.store.pod(req.uid) is not None:
            return self.timing.reservation_ttl_s
        return min(self.timing.reservation_ttl_s, self.timing.unwatched_ttl_s)

    def _plan_ttl(self, req: PodRequest) -> float:
        """How long a gang plan made at this member's filter holds its slots: `gang_ttl_s`, at
        most `unwatched_ttl_s` for a member the watch has not delivered, as `_hold_ttl` caps a
        single pod's hold: a filter for a made-up member of a 2 x 8-GPU gang held both nodes
        of a 2 x 8 cluster for 120 s. A genuine gang whose first filter beat the watch plans
        again, for watched pods, at a member's filter after the short plan lapses."""
        if self.binder is None or self.store.pod(req.uid) is not None:
            return self.timing.gang_ttl_s
        return min(self.timing.gang_ttl_s, self.timing.unwatched_ttl_s)

    def _choose(
        self, state: ClusterState, req: PodRequest, passed: list[str], away: dict[str, str]
    ) -> list[str]:
        """The one node prioritize would score highest (finest scale, `levels`; ties: the
        first in kube-scheduler's order); the others go into `away` with a reason naming it.
        The caller then reserves the pod's GPUs there, as for any filter that leaves one node.

        `away` is kept apart from the filters' failures so the HTTP reply can leave it out
        of FailedNodes (issue 12, ~36 KB at 500 nodes): in kube-scheduler v1.37
        (pkg/scheduler/schedule_one.go) findNodesThatPassExtenders only copies FailedNodes
        into the diagnosis' NodeToStatus, which schedulePod reads when no node is feasible
        (FitError, preemption); with one feasible node it only adds their count to
        EvaluatedNodes, a V(2) log field."""
        scores = run_scores(state, req, passed, self.profile, rank=True)
        ranks = scores.levels if scores.levels is not None else scores.ints
        best = passed[max(range(len(passed)), key=ranks.__getitem__)]
        why = f"choose_in_filter: tessera chose node {best} for this pod"  # metric label
        away.update(dict.fromkeys((n for n in passed if n != best), why))
        return [best]

    def _within_kept(
        self,
        state: ClusterState,
        req: PodRequest,
        now: float,
        passed: list[str],
        failed: dict[str, str],
    ) -> list[str]:
        """A node kept for a waiting gang fails for a pod of its priority or lower unless the
        pod fits within the node's budget (reason names the gang), as the replay simulator's
        tessera policy decides it."""
        keep = self.gangs.kept_from(req, now)
        if keep is None:
            return passed
        out = []
        for n in passed:
            budget = keep.nodes.get(n)
            if budget is None or within_budget(state, req, n, budget):
                out.append(n)
            else:
                failed[n] = (f"node kept for gang {keep.gang} while it drains ({budget} GPUs, "
                             f"priority {keep.priority})")  # fmt: skip
        return out

    def _verdicts(
        self, state: ClusterState, req: PodRequest, names: list[str]
    ) -> tuple[list[str], dict[str, str], dict[str, str]]:
        out = run_filters(state, req, names, self.profile)
        return out.passed, out.failed, out.unresolvable

    def prioritize(
        self,
        pod: Mapping[str, Any],
        node_names: Sequence[str],
        nodes: Sequence[Mapping[str, Any]] | None = None,
    ) -> list[tuple[str, int]]:
        """Integer 0..10 per node; unknown nodes and non-GPU pods score 0."""
        self._learn_nodes(nodes)
        req = self._pod(pod)
        names = list(node_names)
        if req.gpu is None:
            return [(n, 0) for n in names]
        state = self.view(req, self.clock())
        return run_scores(state, req, names, self.profile).pairs()

    def _reserve(self, req: PodRequest, node: str, now: float, ttl: float) -> Placement | None:
        """Check-and-reserve under the store lock; None if the pod no longer fits there."""
        with self.store.lock:
            bound_to = self.store.ledger.bound_node(req.uid, now)
            if bound_to is not None:
                # This extender bound it already (the watch lags): the pod holds those GPUs;
                # a second decision must neither move nor shorten that hold.
                held = self.store.ledger.get(req.uid, now)
                return held.placement if held is not None and bound_to == node else None
            state = self.view(req, now)
            if node not in state.nodes:
                return None
            placement = self.gangs.slot_for(req, node, now)
            if placement is not None and forged(placement, state.nodes[node]):
                # The plan named GPUs the node lost since: decide again, on a view that
                # keeps the plan's other slots held (they are other members' GPUs).
                state, placement = self._own_view(req, now), None
            if placement is None:
                placement = choose_placement(state, req, state.nodes[node])
            if placement is None:
                return None
            alloc = Allocation(
                req.key, req.uid, placement, req.priority, False, now + ttl, cpu_milli=req.cpu_milli
            )
            if placement_conflicts(state.nodes[node], state.allocations_on(node), alloc):
                return None
            self.gangs.claim(req, node, now)
            self.store.ledger.reserve(req.uid, alloc)
            return placement

    def _own_view(self, req: PodRequest, now: float) -> ClusterState:
        """The snapshot without this pod's own hold only (`view` hides its gang's open slots
        too, for a member that may take any of them)."""
        snap = self.view_for_all(now)
        return snap.without({req.uid}) if req.uid in snap.allocations else snap

    def preempt(
        self, pod: Mapping[str, Any], victims: Mapping[str, tuple[Sequence[str], int]]
    ) -> dict[str, tuple[list[str], int]]:
        """Per candidate node, the victims whose removal really frees a fitting placement.

        In-tree victims that hold no GPU on the node are kept (kube-scheduler chose them for
        CPU or memory); among GPU holders only the fewest needed are kept, and lower-priority
        GPU pods on the node may be added. Nodes where no eviction helps are left out.
        """
        req = self._pod(pod)
        state = self.view(req, self.clock())
        out: dict[str, tuple[list[str], int]] = {}
        for node, (uids, pdb) in victims.items():
            if node not in state.nodes:
                continue
            holders = {a.uid for a in state.allocations_on(node) if a.placement.gpus}
            keep = [u for u in uids if u not in holders]
            base = state.without(set(keep))
            extra = [a.uid for a in state.allocations_on(node) if a.bound and a.uid in holders]
            chosen = minimal_victims(base, req, node, [*uids, *extra], self.profile)
            if chosen is None:
                continue
            out[node] = ([*keep, *chosen], pdb)
        return out

    def explain(self, pod_key: str) -> dict[str, Any]:
        from scheduler.state.explain import explain

        return explain(self, pod_key, self.clock())

    def warm(self) -> None:
        """Build the snapshot and its fleet index now (e.g. once the watch cache synced), so
        the first filter does not pay for indexing every node."""
        self.view_for_all(self.clock()).fleet()

    def view_for_all(self, now: float) -> ClusterState:
        snap = self.store.snapshot(now)
        return self.telemetry(snap) if self.telemetry is not None else snap

    def expire(self) -> list[str]:
        """Drop holds past their deadline (called periodically by the service)."""
        with self.store.lock:
            return self.store.ledger.expire(self.clock())

    def recover_gangs(self) -> list[str]:
        """Hold the GPUs of gangs left partly bound again (`GangCoordinator.recover`)."""
        return self.gangs.recover(self.clock())

    def gauges(self) -> dict[str, float]:
        """Read at scrape time: holds, gang plans, nodes and cluster fragmentation."""
        now = self.clock()
        with self.store.lock:
            out = {
                "reservations": float(len(self.store.ledger.live(now))),
                "gang_plans": float(len(self.store.ledger.gangs(now))),
            }
            snap = self.store.snapshot(now)
        out["nodes"] = float(len(snap.nodes))
        frag = cluster_fragmentation(snap, (r.request for r in self.store.pods()))
        out.update({f"fragmentation_{kind}": value for kind, value in frag.items()})
        return out
