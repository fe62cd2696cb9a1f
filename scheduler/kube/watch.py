"""list+watch of Nodes, Pods and PodGroups feeding the `ClusterStore`, one thread per resource.

Each `Informer` lists (paginated), folds the list into the store as a diff (objects gone since
the last list become DELETED events, so one resource's relist never clears another's), then
watches from the list's resourceVersion with bookmarks. A watch that ends (server timeout)
resumes from the last seen resourceVersion; `410 Gone` relists at once; any other failure
backs off exponentially up to a bound. `synced` is set after the first complete list.

No object can stop a watch (issue 11, finding 1): an exception while folding one object is
logged, counted (`errors`, exported as `tessera_watch_errors_total{kind}`) and the object
skipped; an unexpected exception anywhere else in the loop is counted too and ends in a relist.
Each informer records when it last made progress (an event, a bookmark, a watch ending on its
server-side timeout, a relist); `fresh()` turns false when that is older than `stale_after_s`,
and the service's readiness follows it, so a blind extender answers 503 instead of deciding
from a frozen cache.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from scheduler.kube.compact import one_by_one
from scheduler.kube.rest import UNDECODABLE, KubeApiError, KubeRest

log = logging.getLogger("tessera.kube.watch")
GONE = 410


@dataclass(frozen=True)
class Resource:
    kind: str
    path: str  # collection path, e.g. "/api/v1/nodes"
    optional: bool = False  # a CRD that may not be installed (404 -> nothing to watch)


NODES = Resource("Node", "/api/v1/nodes")
PODS = Resource("Pod", "/api/v1/pods")
# The coscheduling PodGroup CRD (scheduler-plugins); min member counts for gangs.
PODGROUPS = Resource("PodGroup", "/apis/scheduling.x-k8s.io/v1alpha1/podgroups", optional=True)


class ListWatchSource(Protocol):
    def list(self, resource: Resource) -> tuple[list[dict[str, Any]], str]:
        """All objects (kind set on each) in a new list, which the caller may empty, and
        the list's resourceVersion."""
        ...

    def watch(
        self, resource: Resource, resource_version: str, timeout_s: int
    ) -> Iterator[dict[str, Any]]:
        """Watch events {"type", "object"} until the server ends the stream."""
        ...


class EventSink(Protocol):
    def apply(self, event: Mapping[str, Any]) -> None: ...


class ApiSource:
    """`ListWatchSource` over a real apiserver."""

    def __init__(self, rest: KubeRest, page_size: int = 500) -> None:
        self.rest = rest
        self.page_size = page_size

    def list(self, resource: Resource) -> tuple[list[dict[str, Any]], str]:
        items: list[dict[str, Any]] = []
        token = ""
        while True:
            query: list[tuple[str, Any]] = [("limit", self.page_size)]
            if token:
                query.append(("continue", token))
            doc = self.rest.request("GET", resource.path, query=query)
            for item in doc.get("items") or ():
                item.setdefault("kind", resource.kind)  # list items carry no kind
                items.append(item)
            meta = doc.get("metadata") or {}
            token = meta.get("continue") or ""
            if not token:
                return items, str(meta.get("resourceVersion") or "")

    def watch(
        self, resource: Resource, resource_version: str, timeout_s: int
    ) -> Iterator[dict[str, Any]]:
        query = [("resourceVersion", resource_version), ("allowWatchBookmarks", "true")]
        return self.rest.watch_lines(resource.path, query, timeout_s)


def object_key(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    name = str(meta.get("name"))
    return f"{ns}/{name}" if ns else name


class Informer:
    def __init__(
        self,
        resource: Resource,
        source: ListWatchSource,
        sink: EventSink,
        *,
        watch_timeout_s: int = 300,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        stale_after_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.resource = resource
        self.source = source
        self.sink = sink
        self.watch_timeout_s = watch_timeout_s
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.synced = threading.Event()
        self.stop = threading.Event()
        self.resource_version = ""
        self.relists = 0
        self.absent = False  # the optional CRD is not installed
        # key -> (name, namespace, uid), for relist diffs: a tuple, not the dicts of a minimal
        # object (~400 bytes each, 10 MB at 25,000 objects; benchmarks/bench_memory.py).
        self._known: dict[str, tuple[Any, Any, Any]] = {}
        # A healthy watch shows progress at least once per server-side timeout (the stream ends
        # then); the client's read timeout is 30 s past it, so allow a minute beyond.
        self.stale_after_s = stale_after_s if stale_after_s is not None else watch_timeout_s + 60
        self.clock = clock
        self.last_progress = clock()
        self.errors = 0  # objects or loop iterations that raised (tessera_watch_errors_total)

    def _progress(self) -> None:
        self.last_progress = self.clock()

    def fresh(self) -> bool:
        """Synced, and progress seen within `stale_after_s` (an absent optional CRD is fresh)."""
        if self.absent:
            return True
        return self.synced.is_set() and self.clock() - self.last_progress <= self.stale_after_s

    def _count_error(self, what: str, key: str, exc: BaseException) -> None:
        self.errors += 1
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
        log.warning("%s %s %s skipped: %s", self.resource.kind, what, key, reason)

    # ---- folding ---------------------------------------------------------------------------
    def _feed(self, event_type: str, obj: dict[str, Any]) -> None:
        obj.setdefault("kind", self.resource.kind)
        key = object_key(obj)
        try:
            self.sink.apply({"type": event_type, "object": obj})
        except Exception as exc:  # noqa: BLE001 -- no object may stop the watch; counted, logged
            self._count_error(event_type, key, exc)
        if event_type == "DELETED":
            self._known.pop(key, None)
        else:
            meta = obj.get("metadata")
            meta = meta if isinstance(meta, dict) else {}
            self._known[key] = (meta.get("name"), meta.get("namespace"), meta.get("uid"))

    def _gone(self, known: tuple[Any, Any, Any]) -> dict[str, Any]:
        """The minimal object a relist's DELETED event carries (absent fields left out)."""
        fields = zip(("name", "namespace", "uid"), known, strict=True)
        meta = {k: v for k, v in fields if v is not None}
        return {"kind": self.resource.kind, "metadata": meta}

    def relist(self) -> None:
        items, rv = self.source.list(self.resource)
        fresh = {object_key(o) for o in items}
        for key in [k for k in self._known if k not in fresh]:
            self._feed("DELETED", self._gone(self._known[key]))
        for obj in one_by_one(items):  # the parsed pages are dropped before folding
            self._feed("ADDED", obj)
        self.resource_version = rv
        self.relists += 1
        self._progress()
        self.synced.set()

    def watch_once(self) -> None:
        """One watch request, folded until the server closes it. Raises on errors."""
        stream = self.source.watch(self.resource, self.resource_version, self.watch_timeout_s)
        for event in stream:
            if self.stop.is_set():
                return
            self._progress()
            etype = event.get("type")
            obj = event.get("object") or {}
            if etype == UNDECODABLE:
                self._count_error("event", "(undecodable)", ValueError(event.get("error")))
                continue
            if not isinstance(obj, dict):
                self._count_error(str(etype), "(not an object)", TypeError(type(obj).__name__))
                continue
            if etype == "ERROR":
                code = obj.get("code") if isinstance(obj, dict) else None
                raise KubeApiError(int(code or 500), str(obj.get("message", "watch error")))
            rv = (obj.get("metadata") or {}).get("resourceVersion")
            if etype in ("ADDED", "MODIFIED", "DELETED"):
                self._feed(etype, obj)
            if rv:
                self.resource_version = str(rv)  # BOOKMARKs only move the resourceVersion
        self._progress()  # the server ended the stream on its timeout: the watch is alive

    # ---- loop ------------------------------------------------------------------------------
    def run(self) -> None:
        backoff = self.backoff_initial_s
        need_list = True
        while not self.stop.is_set():
            try:
                if need_list:
                    self.relist()
                    need_list = False
                self.watch_once()
                backoff = self.backoff_initial_s
            except KubeApiError as exc:
                if exc.status == GONE:
                    log.info("%s watch expired (410 Gone): relisting", self.resource.kind)
                    need_list = True
                    continue
                if exc.status == 404 and self.resource.optional:
                    log.info("%s: CRD not installed; not watching it", self.resource.kind)
                    self.absent = True
                    self.synced.set()
                    return
                backoff = self._pause(f"apiserver said {exc}", backoff)
            except (OSError, ValueError, HTTPError, ApiException) as exc:
                # Connection refused/reset, read timeouts, TLS failures, a truncated JSON line.
                backoff = self._pause(f"{type(exc).__name__}: {exc}", backoff)
            except Exception as exc:  # noqa: BLE001 -- the thread must outlive any bug: relist
                self._count_error("loop", "-", exc)
                need_list = True
                backoff = self._pause(f"unexpected {type(exc).__name__}", backoff)

    def _pause(self, why: str, backoff: float) -> float:
        kind = self.resource.kind
        log.warning("%s list/watch failed (%s); retrying in %.1fs", kind, why, backoff)
        self.stop.wait(backoff)
        return min(backoff * 2, self.backoff_max_s)


class WatchGroup:
    """The informers of one cluster connection; ready when every one has synced."""

    def __init__(self, informers: list[Informer]) -> None:
        self.informers = informers
        self.threads: list[threading.Thread] = []

    def start(self, first_wait_s: float = 10.0) -> None:
        """Start every informer; optional CRDs (PodGroups) first, since pods read their
        minMember when they are folded."""
        ordered = sorted(self.informers, key=lambda i: not i.resource.optional)
        for inf in ordered:
            t = threading.Thread(target=inf.run, name=f"watch-{inf.resource.kind}", daemon=True)
            t.start()
            self.threads.append(t)
            if inf.resource.optional:
                inf.synced.wait(first_wait_s)

    def ready(self) -> bool:
        """Every informer synced and fresh, and every watch thread alive."""
        # An absent optional CRD's thread ends on purpose; any other thread ending is a bug.
        absent = {f"watch-{i.resource.kind}" for i in self.informers if i.absent}
        alive = all(t.is_alive() or t.name in absent for t in self.threads)
        return alive and all(inf.fresh() for inf in self.informers)

    def errors(self) -> dict[str, int]:
        """Watch errors so far by kind (a counter: only ever grows)."""
        return {inf.resource.kind: inf.errors for inf in self.informers}

    def ages(self) -> dict[str, float]:
        """Seconds since each informer last made progress."""
        return {inf.resource.kind: inf.clock() - inf.last_progress for inf in self.informers}

    def wait_synced(self, timeout_s: float) -> bool:
        return all(inf.synced.wait(timeout_s) for inf in self.informers)

    def stop(self) -> None:
        for inf in self.informers:
            inf.stop.set()
        for t in self.threads:
            t.join(timeout=5)
