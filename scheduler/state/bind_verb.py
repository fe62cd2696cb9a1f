"""The bind verb of the `Extender` (`BindVerb`, a base of it): confirm the pod's hold on the
node, or check and reserve one atomically, then call the `Binder` outside the store lock; a
Binder failure releases the hold. One bind per pod at a time; a bind of a pod the watch has not
delivered waits for it briefly (`Timing.bind_wait_s`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from scheduler.policy.capacity import placement_conflicts
from scheduler.policy.model import Allocation, ClusterState, Placement, PodRequest
from scheduler.state.pod_records import forged, unlike_request
from scheduler.state.store import ClusterStore, PodRecord

if TYPE_CHECKING:
    from scheduler.state.extender import Timing


class BindError(Exception):
    """Raised by a `Binder` when the API write fails; the message is one line for the reply."""


class Binder(Protocol):
    def bind(self, namespace: str, name: str, uid: str, node: str, placement: Placement) -> None:
        """Create the Binding and write `tessera.io/placement`; raise `BindError` on failure."""
        ...


class BindVerb:
    """`bind` and what only it uses. The `Extender` provides the store, the binder, its
    timing and clock, the in-flight set and the waiters' semaphore, and the shared checks
    (`_is_slot_key`, `_reserve`, `view_for_all`)."""

    store: ClusterStore
    binder: Binder | None
    timing: Timing
    clock: Callable[[], float]
    _binding: set[str]
    _bind_waiters: threading.BoundedSemaphore

    def _is_slot_key(self, uid: str) -> bool:
        raise NotImplementedError

    def _reserve(self, req: PodRequest, node: str, now: float, ttl: float) -> Placement | None:
        raise NotImplementedError

    def view_for_all(self, now: float) -> ClusterState:
        raise NotImplementedError

    def _fits_now(self, held: Allocation, now: float) -> bool:
        """Whether a hold still names GPUs its node has, clear of every other holder's. The
        node's inventory may have changed since the hold was made (a GPU failed out of the
        agent's annotation, a board replaced): bound as it was, 8 one-GPU pods went to a
        node left with 4 GPUs, the last four naming GPUs 4-7 it no longer had."""
        with self.store.lock:
            snap = self.store.snapshot(now)
            node = snap.nodes.get(held.placement.node)
            if node is None or forged(held.placement, node):
                return False
            others = [a for a in snap.allocations_on(node.name) if a.uid != held.uid]
            return not placement_conflicts(node, others, held)

    def _await_pod(self, uid: str, key: str) -> PodRecord | None:
        """The pod's record once the watch delivers it, waiting up to `Timing.bind_wait_s`
        (None: still unknown). kube-scheduler filters and binds a pod created a few
        milliseconds earlier before this watch has it; failing that bind cost the pod a
        scheduling-error backoff of 1-2 s wall (20-40 trace s at the twin's speedup 20),
        measured in 4 of 7 real Tiresias runs (benchmarks/RESULTS.md, Digital twin, round 7)."""
        if self.binder is None:
            return None  # snapshot mode: no watch will deliver it
        if not self._bind_waiters.acquire(blocking=False):
            return None  # `bind_waiters` binds wait already: answer this one at once
        try:
            deadline = time.monotonic() + self.timing.bind_wait_s
            while True:
                rec = self.store.pod(uid) if uid else None
                rec = rec or self.store.pod(key)
                if rec is not None or time.monotonic() >= deadline:
                    return rec
                time.sleep(0.002)
        finally:
            self._bind_waiters.release()

    def bind(self, name: str, namespace: str, uid: str, node: str) -> str:
        """'' on success, else a one-line error (the hold is then released).

        One bind per pod at a time: two concurrent binds of one pod to different nodes each
        re-reserved under the pod's UID (the second replacing the first's hold) and both
        called the Binder; whichever the apiserver refused then released the hold the other
        had just bound, so the bound node's GPUs looked free until the watch caught up."""
        key = f"{namespace}/{name}"
        if self._is_slot_key(uid):
            # Bound as the pod's own hold, an outsider took the slot's GPUs and the member
            # bound later got the same ones.
            return f"PodUID {uid[:60]!r} is not a pod's UID; bind of {key} refused"
        rec = self.store.pod(uid) or self.store.pod(key)
        flight = uid or (rec.request.uid if rec is not None else key)
        with self.store.lock:
            if flight in self._binding:
                return f"pod {key} is being bound already; this bind to {node} is refused"
            self._binding.add(flight)
        try:
            return self._bind(name, namespace, uid, node, rec)
        finally:
            with self.store.lock:
                self._binding.discard(flight)

    def _bind(self, name: str, namespace: str, uid: str, node: str, rec: PodRecord | None) -> str:
        """`bind` once it holds the pod's flight; `rec`: the pod as the store has it."""
        key = f"{namespace}/{name}"
        uid = uid or (rec.request.uid if rec is not None else "")
        now = self.clock()
        held = self.store.ledger.get(uid, now) if uid else None
        if rec is None and held is None:
            rec = self._await_pod(uid, key)
            uid = uid or (rec.request.uid if rec is not None else "")
        if rec is None and held is None:
            return f"pod {key} is unknown to the extender (not seen by its watch)"
        if rec is not None and rec.request.uid == uid and rec.request.key != key:
            # The UID names another pod: deciding on that pod's request for this one answered
            # "already bound" or bound by the other pod's needs.
            return f"PodUID {uid[:60]} is pod {rec.request.key}'s, not {key}'s"
        bound_to = rec.request.node_name if rec is not None else None
        if bound_to is None and uid:
            with self.store.lock:
                bound_to = self.store.ledger.bound_node(uid, now)  # bound here, not watched yet
        if bound_to is not None:
            # Bound (the watch shows it, or this extender's Binding was accepted): the
            # apiserver refuses a second Binding, and a hold taken for it here would hide under
            # the pod's UID (one allocation per pod) or release the GPUs it is bound to, so a
            # later plan could take the same GPUs.
            if bound_to == node:
                return ""  # a retried bind whose first attempt landed: nothing to do
            return f"pod {key} is already bound to node {bound_to}, not {node}"
        if (
            held is not None
            and held.placement.node == node
            and (rec is None or not unlike_request(held.placement, rec.request))
            and self._fits_now(held, now)
        ):
            # (A hold made from a filter request whose Pod said other than the watched pod,
            # e.g. one GPU for an eight-GPU pod, is not bound as it is: decided again below,
            # and so is one whose node lost or replaced its GPUs since: `_fits_now`.)
            placement = held.placement
        elif rec is None and held is not None and held.placement.node == node:
            with self.store.lock:
                self.store.ledger.release(uid)
            return f"pod {key}'s hold on node {node} no longer fits: the node's GPUs changed"
        elif rec is None:
            return (
                f"pod {key} was planned on node {held.placement.node if held else '?'}, not {node}"
            )
        else:
            req = rec.request
            placement_or_none = self._reserve(req, node, now, self.timing.reservation_ttl_s)
            if placement_or_none is None and not self.store.has_node(node):
                return f"node {node[:80]!r} is unknown to the extender (not seen by its watch)"
            if placement_or_none is None:
                return f"pod {key} no longer fits on node {node}: its GPUs were taken"
            placement = placement_or_none
        if self.binder is None:
            self.store.ledger.release(uid)
            return "this extender has no binder configured (snapshot mode)"
        done = False
        try:
            self.binder.bind(namespace, name, uid, node, placement)
            done = True
        except BindError as exc:
            return f"binding pod {key} to {node} failed: {exc}"
        finally:
            if not done:  # whatever went wrong, the hold must not outlive the failed bind
                with self.store.lock:
                    self.store.ledger.release(uid)
        with self.store.lock:
            self.store.ledger.mark_bound(uid, self.clock() + self.timing.bound_ttl_s)
        return ""
