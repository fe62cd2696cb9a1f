"""list+watch of Nodes, Pods and PodGroups feeding the `ClusterStore`, one thread per resource.

Each `Informer` lists (paginated), folds the list into the store as a diff (objects gone since
the last list become DELETED events, so one resource's relist never clears another's), then
watches from the list's resourceVersion with bookmarks. A watch that ends (server timeout)
resumes from the last seen resourceVersion; `410 Gone` relists at once; any other failure
backs off exponentially up to a bound. `synced` is set after the first complete list.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from scheduler.kube.rest import KubeApiError, KubeRest

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
        """All objects (kind set on each) and the list's resourceVersion."""
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
        self._known: dict[str, dict[str, Any]] = {}  # key -> minimal object, for relist diffs

    # ---- folding ---------------------------------------------------------------------------
    def _feed(self, event_type: str, obj: dict[str, Any]) -> None:
        obj.setdefault("kind", self.resource.kind)
        key = object_key(obj)
        try:
            self.sink.apply({"type": event_type, "object": obj})
        except ValueError as exc:  # a malformed object must not stop the watch
            log.warning("%s %s %s ignored: %s", self.resource.kind, event_type, key, exc)
        if event_type == "DELETED":
            self._known.pop(key, None)
        else:
            meta = obj.get("metadata") or {}
            self._known[key] = {
                "kind": self.resource.kind,
                "metadata": {k: meta[k] for k in ("name", "namespace", "uid") if k in meta},
            }

    def relist(self) -> None:
        items, rv = self.source.list(self.resource)
        fresh = {object_key(o) for o in items}
        for key in [k for k in self._known if k not in fresh]:
            self._feed("DELETED", dict(self._known[key]))
        for obj in items:
            self._feed("ADDED", obj)
        self.resource_version = rv
        self.relists += 1
        self.synced.set()

    def watch_once(self) -> None:
        """One watch request, folded until the server closes it. Raises on errors."""
        stream = self.source.watch(self.resource, self.resource_version, self.watch_timeout_s)
        for event in stream:
            if self.stop.is_set():
                return
            etype = event.get("type")
            obj = event.get("object") or {}
            if etype == "ERROR":
                code = obj.get("code") if isinstance(obj, dict) else None
                raise KubeApiError(int(code or 500), str(obj.get("message", "watch error")))
            rv = (obj.get("metadata") or {}).get("resourceVersion")
            if etype in ("ADDED", "MODIFIED", "DELETED"):
                self._feed(etype, obj)
            if rv:
                self.resource_version = str(rv)  # BOOKMARKs only move the resourceVersion

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
        return all(inf.synced.is_set() for inf in self.informers)

    def wait_synced(self, timeout_s: float) -> bool:
        return all(inf.synced.wait(timeout_s) for inf in self.informers)

    def stop(self) -> None:
        for inf in self.informers:
            inf.stop.set()
        for t in self.threads:
            t.join(timeout=5)
