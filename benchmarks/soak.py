"""Soak: mixed extender verbs at a steady rate on a 5,000-node snapshot, with watch churn.

One process holds the real server (uvicorn on loopback, the real app, `Extender` and
`ClusterStore`) and three drivers:
- churn: `ChurnSource`, a stand-in apiserver behind a real Pod `Informer`, creates pending GPU
  pods at `--churn` per second and deletes each `--lifetime` seconds after it was bound (the
  watch events a real apiserver would send, including the bound pod with its placement);
- scheduler: one client with a kept-alive connection (kube-scheduler calls an extender
  serially) takes each new pod through filter (the 500-name sample kube-scheduler sends at
  5,000 nodes), prioritize and bind, at `--rate` pods per second, and every tenth pod also
  sends a preempt naming two bound victims;
- the binder is a stand-in that records the bind and feeds the bound pod back through the watch.

Per window (`--window` seconds; default a minute) it prints requests, errors, p50/p99 request
latency and the process RSS. Verdict: p99 of the last window within 20 % of the first, RSS
growth first to last window < 10 %, 0 errors. It also prints the p99 trend, the median of the
per-window p99 over the later half of the windows divided by that over the earlier half: one
slow window (a neighbour's burst on a shared box) moves a median little, so the trend is the
figure a short run can be held to. `--json FILE` writes the table and verdict.

    python3 benchmarks/soak.py                      # 10 minutes
    python3 benchmarks/soak.py --duration 30 --window 5   # the CI form (tests/benchmarks)
"""

from __future__ import annotations

import argparse
import gc
import http.client
import json
import queue
import random
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout, installed or not

from benchmarks.bench_extender_http import node  # noqa: E402
from scheduler.api.adapter import FacadePort  # noqa: E402
from scheduler.api.app import EdgeConfig, create_app  # noqa: E402
from scheduler.api.server import serve_in_thread  # noqa: E402
from scheduler.kube.watch import PODS, Informer, Resource  # noqa: E402
from scheduler.policy.model import Placement  # noqa: E402
from scheduler.state import placement as placement_codec  # noqa: E402
from scheduler.state.extender import Extender  # noqa: E402
from scheduler.state.store import ClusterStore  # noqa: E402

SAMPLE = 500  # names kube-scheduler sends at 5,000 nodes (numFeasibleNodesToFind)


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def pending_pod(k: int) -> dict[str, Any]:
    req = {"nvidia.com/gpu": "1"} if k % 2 else {"tessera.io/gpu-milli": "500"}
    req |= {"cpu": "2", "memory": "8Gi"}
    return {"kind": "Pod", "apiVersion": "v1",
            "metadata": {"name": f"soak-{k}", "namespace": "default", "uid": f"u-soak-{k}",
                         "resourceVersion": str(k)},
            "spec": {"containers": [{"name": "c", "resources": {"requests": req, "limits": req}}]},
            "status": {"phase": "Pending"}}  # fmt: skip


class ChurnSource:
    """Stand-in apiserver for the Pod informer: events come from `events` (a queue)."""

    def __init__(self) -> None:
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.stop = threading.Event()

    def list(self, resource: Resource) -> tuple[list[dict[str, Any]], str]:
        return [], "1"

    def watch(self, resource: Resource, rv: str, timeout_s: int) -> Iterator[dict[str, Any]]:
        end = time.monotonic() + timeout_s
        while not self.stop.is_set() and time.monotonic() < end:
            try:
                yield self.events.get(timeout=0.2)
            except queue.Empty:
                continue


class WatchBinder:
    """Stand-in binder: the bound pod (spec.nodeName + placement) goes back through the watch."""

    def __init__(self, source: ChurnSource, pods: dict[str, dict[str, Any]]) -> None:
        self.source, self.pods = source, pods
        self.bound_at: dict[str, float] = {}
        self.lock = threading.Lock()

    def bind(self, namespace: str, name: str, uid: str, node: str, placement: Placement) -> None:
        pod = json.loads(json.dumps(self.pods[name]))
        pod["spec"]["nodeName"] = node
        pod["status"]["phase"] = "Running"
        pod["metadata"]["annotations"] = {placement_codec.ANNOTATION: placement_codec.encode(
            placement)}  # fmt: skip
        self.source.events.put({"type": "MODIFIED", "object": pod})
        with self.lock:
            self.bound_at[name] = time.monotonic()


@dataclass
class Window:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    rss_mib: float = 0.0


def pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


def run(duration_s: float, window_s: float, rate: float, churn: float, lifetime_s: float,
        n_nodes: int, seed: int) -> dict[str, Any]:  # fmt: skip
    rng = random.Random(seed)
    nodes = [node(i) for i in range(n_nodes)]
    names = [n["metadata"]["name"] for n in nodes]
    store = ClusterStore()
    store.replace(nodes)
    source = ChurnSource()
    pods: dict[str, dict[str, Any]] = {}
    binder = WatchBinder(source, pods)
    ext = Extender(store, binder)
    ext.warm()
    gc.freeze()  # as `tessera serve` does once warm
    app = create_app(FacadePort(ext), EdgeConfig(body_limit=64 << 20, token=None,
                                                 token_on_verbs=False))  # fmt: skip
    informer = Informer(PODS, source, store, watch_timeout_s=30)
    threading.Thread(target=informer.run, daemon=True).start()
    informer.synced.wait(10)
    fresh: queue.Queue[str] = queue.Queue()
    stop = threading.Event()

    def churn_loop() -> None:
        k = 0
        next_at = time.monotonic()
        while not stop.is_set():
            k += 1
            pod = pending_pod(k)
            pods[pod["metadata"]["name"]] = pod
            source.events.put({"type": "ADDED", "object": pod})
            fresh.put(pod["metadata"]["name"])
            now = time.monotonic()
            with binder.lock:
                old = [n for n, t in binder.bound_at.items() if now - t > lifetime_s]
                for n in old:
                    del binder.bound_at[n]
            for n in old:
                source.events.put({"type": "DELETED", "object": pods.pop(n)})
            next_at += 1 / churn
            stop.wait(max(0.0, next_at - time.monotonic()))

    windows: list[Window] = []
    with serve_in_thread(app) as url:
        host, port = url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        threading.Thread(target=churn_loop, daemon=True).start()

        def call(verb: str, doc: Any, w: Window) -> Any:
            body = orjson.dumps(doc)
            t0 = time.perf_counter()
            try:
                conn.request("POST", f"/{verb}", body, {"Content-Type": "application/json"})
                resp = conn.getresponse()
                data = resp.read()
            except (OSError, http.client.HTTPException):
                w.errors += 1
                conn.close()
                return None
            w.latencies.append(time.perf_counter() - t0)
            if resp.status != 200:
                w.errors += 1
                return None
            return orjson.loads(data)

        start = time.monotonic()
        n_windows = max(1, round(duration_s / window_s))
        done = 0
        for wi in range(n_windows):
            w = Window()
            w_end = start + (wi + 1) * window_s
            next_at = time.monotonic()
            while time.monotonic() < w_end:
                try:
                    name = fresh.get(timeout=0.5)
                except queue.Empty:
                    continue
                while store.pod(f"default/{name}") is None and time.monotonic() < w_end:
                    time.sleep(0.001)  # the watch has not delivered it yet
                pod = pods.get(name)
                if pod is None:
                    continue
                sample = rng.sample(names, SAMPLE)
                got = call("filter", {"Pod": pod, "NodeNames": sample}, w)
                passed = got["NodeNames"] if got else []
                if len(passed) > 1:
                    scores = call("prioritize", {"Pod": pod, "NodeNames": passed}, w) or []
                    passed = [max(scores, key=lambda s: s["Score"])["Host"]] if scores else passed
                if passed:
                    args = {"PodName": name, "PodNamespace": "default",
                            "PodUID": pod["metadata"]["uid"], "Node": passed[0]}  # fmt: skip
                    b = call("bind", args, w)
                    if b is None or b["Error"]:
                        w.errors += 1
                done += 1
                if done % 10 == 0:
                    with binder.lock:
                        victims = list(binder.bound_at)[:2]
                    meta = {"gpu-node-00000": {"Pods": [{"UID": f"u-{v}"} for v in victims],
                                               "NumPDBViolations": 0}}  # fmt: skip
                    call("preempt", {"Pod": pod, "NodeNameToMetaVictims": meta}, w)
                next_at += 1 / rate
                time.sleep(max(0.0, next_at - time.monotonic()))
            w.rss_mib = rss_mib()
            windows.append(w)
        stop.set()
        source.stop.set()
        informer.stop.set()
        conn.close()
    return verdict(windows, window_s, informer.errors)


def verdict(windows: list[Window], window_s: float, watch_errors: int) -> dict[str, Any]:
    rows: list[dict[str, Any]] = [
        {"window": i + 1, "end_s": round((i + 1) * window_s), "requests": len(w.latencies),
         "errors": w.errors, "p50_ms": round(statistics.median(w.latencies) * 1e3, 2)
         if w.latencies else None, "p99_ms": round(pct(w.latencies, 0.99) * 1e3, 2),
         "rss_mib": round(w.rss_mib, 1)}
        for i, w in enumerate(windows)
    ]  # fmt: skip
    first, last = rows[0], rows[-1]
    p99_ratio = last["p99_ms"] / first["p99_ms"] if first["p99_ms"] else float("inf")
    half = len(rows) // 2  # an odd middle window is left out of both halves
    early = statistics.median(r["p99_ms"] for r in rows[:half]) if half else first["p99_ms"]
    late = statistics.median(r["p99_ms"] for r in rows[len(rows) - half :]) if half else early
    trend = late / early if early else float("inf")
    rss_growth = last["rss_mib"] / first["rss_mib"] - 1 if first["rss_mib"] else float("inf")
    errors = sum(r["errors"] for r in rows) + watch_errors
    return {
        "windows": rows,
        "p99_last_over_first": round(p99_ratio, 3),
        "p99_trend": round(trend, 3),
        "rss_growth": round(rss_growth, 4),
        "errors": errors,
        "ok": {"p99_flat": p99_ratio <= 1.2, "rss": rss_growth < 0.10, "errors": errors == 0},
    }


def print_table(result: dict[str, Any]) -> None:
    print(f"{'window':>6} {'end s':>6} {'requests':>8} {'errors':>6} {'p50 ms':>8} "
          f"{'p99 ms':>8} {'RSS MiB':>8}")  # fmt: skip
    for r in result["windows"]:
        print(f"{r['window']:>6} {r['end_s']:>6} {r['requests']:>8} {r['errors']:>6} "
              f"{r['p50_ms']:>8} {r['p99_ms']:>8} {r['rss_mib']:>8}")  # fmt: skip
    ok = result["ok"]
    print(f"p99 last/first {result['p99_last_over_first']} ({'ok' if ok['p99_flat'] else 'FAIL'}"
          f" <= 1.2); p99 trend (median late/early half) {result['p99_trend']}; "
          f"RSS growth {result['rss_growth']:.1%} ({'ok' if ok['rss'] else 'FAIL'}"
          f" < 10%); errors {result['errors']} ({'ok' if ok['errors'] else 'FAIL'})")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=600, help="seconds (default 600)")
    ap.add_argument("--window", type=float, default=60, help="seconds per table row")
    ap.add_argument("--rate", type=float, default=20, help="pods scheduled per second")
    ap.add_argument("--churn", type=float, default=20, help="pods created per second")
    ap.add_argument("--lifetime", type=float, default=20, help="seconds a bound pod lives")
    ap.add_argument("--nodes", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, help="write the table and verdict here")
    a = ap.parse_args()
    result = run(a.duration, a.window, a.rate, a.churn, a.lifetime, a.nodes, a.seed)
    print_table(result)
    if a.json:
        a.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
