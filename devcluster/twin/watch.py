"""Record pod lifecycle times from the apiserver's watch: when each pod was seen bound
(`spec.nodeName` set), Running and Succeeded, on this process's monotonic clock.

API timestamps have one-second resolution, too coarse for a replay compressed 100x; the watch
delivers each change within milliseconds, so the receipt time is the measurement.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field

import httpx

from devcluster.kubeapi import KubeApi


@dataclass
class PodTimes:
    node: str | None = None
    bound: float | None = None
    running: float | None = None
    succeeded: float | None = None


@dataclass
class PodWatch:
    """A background watch on the pods of one namespace; `pods` maps name -> PodTimes."""

    api: KubeApi
    namespace: str = "default"
    pods: dict[str, PodTimes] = field(default_factory=dict)
    changed: threading.Condition = field(default_factory=threading.Condition)
    error: str | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> PodWatch:
        self._thread = threading.Thread(target=self._run, name="pod-watch", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        rv = "0"
        path = f"/api/v1/namespaces/{self.namespace}/pods"
        while not self._stop.is_set():
            params = {"watch": "true", "resourceVersion": rv, "timeoutSeconds": "30",
                      "allowWatchBookmarks": "true"}  # fmt: skip
            try:
                with self.api.stream(path, **params) as resp:
                    for line in resp.iter_lines():
                        if self._stop.is_set():
                            return
                        if not line:
                            continue
                        ev = json.loads(line)
                        obj = ev.get("object", {})
                        rv = obj.get("metadata", {}).get("resourceVersion", rv)
                        if ev.get("type") in ("ADDED", "MODIFIED"):
                            self._note(obj, time.monotonic())
                        elif ev.get("type") == "ERROR":
                            rv = "0"  # too old: relist from the cache
                            break
            except httpx.HTTPError as exc:
                if self._stop.is_set():
                    return
                self.error = str(exc)
                time.sleep(0.2)

    def _note(self, pod: dict, now: float) -> None:
        name = pod["metadata"]["name"]
        node = pod.get("spec", {}).get("nodeName")
        phase = (pod.get("status") or {}).get("phase")
        with self.changed:
            t = self.pods.setdefault(name, PodTimes())
            if node and t.bound is None:
                t.node, t.bound = node, now
            if phase in ("Running", "Succeeded") and t.running is None:
                t.running = now
            if phase == "Succeeded" and t.succeeded is None:
                t.succeeded = now
            self.changed.notify_all()
