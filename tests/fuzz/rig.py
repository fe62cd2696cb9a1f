"""The fuzz target: the real app over the real `Extender` and `ClusterStore`, in process.

A small mixed cluster (whole GPUs, MIG, fractional use) with bound pods, so generated requests
reach the scheduling core. The one stand-in is `RecordingBinder`, which records binds instead
of writing to an apiserver. `Tally` counts cases and status codes for the report, and reads
the process RSS from /proc.
"""

from __future__ import annotations

import gc
import json
import os
import threading
from collections import Counter
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from scheduler.api.adapter import FacadePort
from scheduler.api.app import EdgeConfig, create_app
from scheduler.policy.model import Placement
from scheduler.state.extender import Extender, Timing
from scheduler.state.store import ClusterStore
from tests.builders import gpu_json, node_json, pod_json

LONG = os.environ.get("TESSERA_LONG", "") not in ("", "0")
# CI: a few hundred cases in all; long form: >= 10,000 (four verbs x 2,500 + the strategies).
SCHEMA_EXAMPLES = 2500 if LONG else 40
STRATEGY_EXAMPLES = 1500 if LONG else 40


class RecordingBinder:
    """Stand-in for the Kubernetes binder: records binds, writes nothing."""

    def __init__(self) -> None:
        self.binds: list[tuple[str, str, str]] = []
        self.lock = threading.Lock()

    def bind(self, namespace: str, name: str, uid: str, node: str, placement: Placement) -> None:
        with self.lock:
            self.binds.append((f"{namespace}/{name}", uid, node))


def cluster() -> list[dict[str, Any]]:
    objs: list[dict[str, Any]] = []
    for i in range(12):
        objs.append(node_json(f"n{i}", [gpu_json(g) for g in range(1 + i % 8)]))
    objs.append(node_json("mig-0", [gpu_json(0, mig=True, instances=[("3g.40gb", 0, True)])]))
    objs.append(node_json("gfd-0", None, annotate=False, allocatable={"nvidia.com/gpu": "4"}))
    objs.append(pod_json("bound", {"nvidia.com/gpu": "1"}, node="n3", phase="Running"))
    objs.append(pod_json("half", {"tessera.io/gpu-milli": "500"}, node="n5", phase="Running"))
    objs.append(pod_json("pending", {"nvidia.com/gpu": "2"}))
    return objs


def build_app() -> tuple[FastAPI, ClusterStore]:
    store = ClusterStore()
    store.replace(cluster())
    # bind_wait_s 0: a /bind of a pod the watch never delivered answers at once. With the
    # default 1 s wait (for a pod created just before its bind) 2,500 generated binds of
    # unknown pods took over the per-test 600 s (round 9's first long run).
    ext = Extender(store, RecordingBinder(), timing=Timing(bind_wait_s=0.0))
    edge = EdgeConfig(body_limit=1 << 20, token=None, token_on_verbs=False)
    return create_app(FacadePort(ext), edge), store


def rss_bytes() -> int:
    """Resident set size of this process (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


class Tally:
    def __init__(self) -> None:
        self.codes: Counter[tuple[str, int]] = Counter()
        self.rss_first = 0
        self.sample: list[tuple[str, bytes]] = []  # the last requests, replayed for memory

    def keep(self, path: str, body: bytes) -> None:
        self.sample.append((path, body))
        if len(self.sample) > 400:
            del self.sample[:100]

    def count(self, where: str, code: int) -> None:
        if not self.codes:
            gc.collect()
            self.rss_first = rss_bytes()
        self.codes[(where, code)] += 1

    @property
    def cases(self) -> int:
        return sum(self.codes.values())

    @property
    def server_errors(self) -> int:
        return sum(n for (_, code), n in self.codes.items() if code >= 500)

    def report(self) -> dict[str, Any]:
        gc.collect()
        return {
            "cases": self.cases,
            "5xx": self.server_errors,
            "rss_first_mib": round(self.rss_first / 2**20, 1),
            "rss_last_mib": round(rss_bytes() / 2**20, 1),
            "by_code": {f"{w} {c}": n for (w, c), n in sorted(self.codes.items())},
        }


TALLY = Tally()


def replay_rss(app: FastAPI, sample: list[tuple[str, bytes]], passes: int = 12) -> tuple[int, int]:
    """The app's own memory, apart from the fuzzer's: replay `sample` `passes` times in process;
    RSS after the second pass (warm) and after the last."""
    from fastapi.testclient import TestClient

    client = TestClient(app)
    warm = 0
    for i in range(passes):
        for path, body in sample:
            client.post(path, content=body)
        if i == 1:
            gc.collect()
            warm = rss_bytes()
    gc.collect()
    return warm, rss_bytes()


def write_report(path: str | None, report: dict[str, Any]) -> None:
    if path:
        Path(path).write_text(json.dumps(report, indent=1))
