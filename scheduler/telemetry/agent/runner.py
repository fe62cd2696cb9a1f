"""The node agent loop: sample NVML, export `/metrics`, patch the node annotation when due.

NVML absent or failing is not fatal: the agent logs one clear line, keeps serving `/metrics`
(`tessera_agent_nvml_up 0`) and retries init with a capped backoff, so a DaemonSet pod never
crash-loops on a node whose driver is missing or being upgraded.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import start_http_server

from scheduler.telemetry.agent.backend import NvmlBackend, NvmlUnavailable
from scheduler.telemetry.agent.exposition import AgentCollector, make_registry
from scheduler.telemetry.agent.publisher import AnnotationPublisher
from scheduler.telemetry.logonce import LogOnce
from scheduler.telemetry.readings import NodeSample

log = logging.getLogger(__name__)


class Agent:
    def __init__(
        self,
        node: str,
        backend: NvmlBackend,
        *,
        interval_s: float = 5.0,
        publisher: AnnotationPublisher | None = None,
        clock: Callable[[], float] = time.time,
        max_backoff_s: float = 300.0,
    ) -> None:
        self.node, self.backend, self.interval_s = node, backend, interval_s
        self.publisher, self.clock = publisher, clock
        self.collector = AgentCollector(node)
        self.registry = make_registry(self.collector)
        self._started = False
        self._next_init = 0.0
        self._backoff = interval_s
        self._max_backoff = max_backoff_s
        self._once = LogOnce(log)
        self._stop = threading.Event()
        self.last: NodeSample | None = None

    def _ensure_started(self, now: float) -> bool:
        if self._started:
            return True
        if now < self._next_init:
            return False
        try:
            self.backend.start()
        except NvmlUnavailable as exc:
            self._once.warning(
                "init",
                "GPU telemetry unavailable on node %s: %s "
                "(serving /metrics with tessera_agent_nvml_up 0; retrying)",
                self.node,
                exc,
            )
            self._next_init = now + self._backoff
            self._backoff = min(self._backoff * 2, self._max_backoff)
            return False
        self._once.clear("init")
        log.info(
            "agent on node %s reading GPUs through the %s backend", self.node, self.backend.name
        )
        self._started, self._backoff = True, self.interval_s
        return True

    def tick(self) -> NodeSample | None:
        """One sweep; returns the sample, or None when NVML is not usable right now."""
        now = self.clock()
        if not self._ensure_started(now):
            self.collector.update(None, nvml_up=False)
            return None
        try:
            sample = self.backend.sample(now)
        except NvmlUnavailable as exc:
            self._once.warning("sample", "NVML sweep failed on node %s: %s", self.node, exc)
            self.backend.close()
            self._started = False
            self._next_init = now + self._backoff
            self.collector.update(None, nvml_up=False)
            return None
        self._once.clear("sample")
        self.last = sample
        self.collector.update(sample, nvml_up=True)
        if self.publisher is not None:
            self.publisher.offer(sample, now)
        return sample

    def serve(self, port: int, host: str = "0.0.0.0") -> Any:
        """Start `/metrics` on a background thread; returns the HTTP server (port 0 = any)."""
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        return server

    def run_forever(self) -> None:
        while not self._stop.is_set():
            self.tick()
            self._stop.wait(self.interval_s)
        self.backend.close()

    def stop(self) -> None:
        self._stop.set()
