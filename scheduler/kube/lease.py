"""One active Tessera among replicas: a `coordination.k8s.io/v1` Lease, as client-go's leader
election keeps one (acquire when free or expired, renew while held, step down when renewing
fails for longer than the lease).

Two replicas behind one kube-scheduler would each keep their own reservation ledger and could
give the same GPU twice. With the setting `replica_lease` (`NAMESPACE/NAME`) only the holder
answers `/readyz` 200 and serves the verbs; the others answer 503 until the holder's lease
lapses, so a Service routes to one replica and a standby takes over after at most the lease
duration. Expiry is judged by this process's own clock from when it last saw the holder's
record change (never by comparing clocks across machines).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from scheduler.kube.rest import KubeApiError, KubeRest

log = logging.getLogger("tessera.kube.lease")


def _micro_time(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaseElector:
    def __init__(
        self,
        rest: KubeRest,
        namespace: str,
        name: str,
        identity: str,
        *,
        duration_s: int = 15,
        renew_every_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.rest, self.identity = rest, identity
        self.duration_s, self.renew_every_s = duration_s, renew_every_s
        self.clock, self.wall = clock, wall
        self.collection = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"
        self.path = f"{self.collection}/{name}"
        self.name, self.namespace = name, namespace
        self._held_until = float("-inf")  # by our clock: leader until then without a renewal
        self._seen: tuple[Any, Any] | None = None  # the other holder's (identity, renewTime)
        self._seen_at = 0.0

    def is_leader(self) -> bool:
        return self.clock() < self._held_until

    def try_once(self) -> bool:
        """One acquire-or-renew; True when this process holds the lease now."""
        now = self.clock()
        try:
            lease = self.rest.request("GET", self.path)
        except KubeApiError as exc:
            if exc.status != 404:
                raise
            return self._write("POST", self.collection, self._fresh(None, 0), now)
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity")
        if holder and holder != self.identity:
            record = (holder, spec.get("renewTime"))
            if record != self._seen:
                self._seen, self._seen_at = record, now
            duration = spec.get("leaseDurationSeconds") or self.duration_s
            if now - self._seen_at <= duration:
                return False  # held by a live replica
        transitions = int(spec.get("leaseTransitions") or 0) + (holder != self.identity)
        body = self._fresh(lease, transitions, keep_acquire=holder == self.identity)
        return self._write("PUT", self.path, body, now)

    def _fresh(self, lease: dict[str, Any] | None, transitions: int, *, keep_acquire: bool = False
               ) -> dict[str, Any]:  # fmt: skip
        wall = _micro_time(self.wall())
        spec = dict((lease or {}).get("spec") or {})
        spec.update(holderIdentity=self.identity, leaseDurationSeconds=self.duration_s,
                    renewTime=wall, leaseTransitions=transitions)  # fmt: skip
        if not keep_acquire:
            spec["acquireTime"] = wall
        meta = {"name": self.name, "namespace": self.namespace}
        if lease is not None:  # optimistic concurrency: a racing writer gets 409
            meta["resourceVersion"] = lease["metadata"]["resourceVersion"]
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta,
                "spec": spec}  # fmt: skip

    def _write(self, method: str, path: str, body: dict[str, Any], now: float) -> bool:
        try:
            self.rest.request(method, path, body=body)
        except KubeApiError as exc:
            if exc.status == 409:
                return False  # another replica wrote first
            raise
        # Step down a renewal interval before the others may take over.
        self._held_until = now + self.duration_s - self.renew_every_s
        return True

    def run(self, stop: threading.Event) -> None:
        was = False
        while not stop.is_set():
            try:
                self.try_once()
            except Exception as exc:  # noqa: BLE001 -- keep trying; leadership lapses by itself
                log.warning("lease %s: %s", self.path, " ".join(str(exc).split())[:200])
            now = self.is_leader()
            if now != was:
                log.info("lease %s: %s", self.path, "leading" if now else "standing by")
                was = now
            stop.wait(self.renew_every_s)
