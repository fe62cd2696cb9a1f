"""Telemetry fold cost: what live GPU health/load adds to a filter + prioritize round.

Run: python3 benchmarks/bench_telemetry.py [--nodes 500 2000] [--repeats 5]
Prints one table. Each node has 8 H100s with one reading per GPU (utilisation varies, one GPU
in 50 has XID 79). Per fleet size: the fold after new readings (refresh + `overlay`: merge and
refold every GPU, what the poller pays once per poll), a cached `overlay` (what each request
pays), and for scale one cold filter + score round of a whole-GPU pod over all nodes (fresh
snapshot, capacity views built). Wall ms (time.perf_counter); compare by ratio within one run.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from types import MappingProxyType

from scheduler.policy.framework import run_filters, run_scores
from scheduler.policy.model import ClusterState, Gpu, GpuRequest, Node, PodRequest
from scheduler.policy.registry import default_profile
from scheduler.telemetry.hub import TelemetryHub
from scheduler.telemetry.readings import GpuReading, XidEvent

NOW = 1_800_000_000.0


class FixedSource:
    name, max_age_s = "bench", 120.0

    def __init__(self, readings: list[GpuReading]) -> None:
        self.readings = readings

    def fetch(self, now: float) -> list[GpuReading]:
        return self.readings


def fleet(n: int) -> tuple[dict[str, Node], list[GpuReading]]:
    nodes, readings = {}, []
    for i in range(n):
        name = f"gpu-node-{i}"
        gpus = tuple(Gpu(j, f"GPU-{i}-{j}", "NVIDIA H100 80GB HBM3", 81559) for j in range(8))
        nodes[name] = Node(name, gpus=gpus, cpu_milli=64000, memory_bytes=1 << 40)
        for j in range(8):
            xid = (XidEvent(79, NOW),) if (i * 8 + j) % 50 == 0 else ()
            readings.append(
                GpuReading(
                    name,
                    j,
                    NOW,
                    "bench",
                    utilization_pct=(i * 7 + j) % 101,
                    memory_used_mib=1490,
                    xid_recent=xid,
                )
            )
    return nodes, readings


def timed(fn: Callable[[], object], repeats: int) -> float:
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return statistics.median(out)


def row(n: int, repeats: int) -> tuple[float, float, float]:
    """(fold ms, cached overlay ms, cold filter+score round ms) for `n` nodes."""
    pod = PodRequest(key="bench/p", uid="p", gpu=GpuRequest(kind="whole"))
    profile = default_profile()
    nodes, readings = fleet(n)
    names = list(nodes)
    base = ClusterState(nodes=MappingProxyType(nodes), now=NOW)
    hub = TelemetryHub([FixedSource(readings)])

    def fold() -> None:
        hub.refresh(NOW)  # new readings: the merged map and the fold are rebuilt
        hub.overlay(base)

    def cold_round() -> None:
        st = ClusterState(nodes=base.nodes, now=NOW)  # fresh snapshot: no memoised views
        passed = [k for k, s in run_filters(st, pod, names, profile).items() if s.ok]
        run_scores(st, pod, passed, profile)

    f = timed(fold, repeats)
    c = timed(lambda: hub.overlay(base), repeats)
    return f, c, timed(cold_round, repeats)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, nargs="+", default=[500, 2000])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    print(
        f"{'nodes':>6} {'GPUs':>6} {'fold ms':>9} {'cached ms':>10} {'cold round ms':>14} "
        f"{'fold/round':>10}"
    )
    for n in args.nodes:
        f, c, r = row(n, args.repeats)
        print(f"{n:6d} {n * 8:6d} {f:9.1f} {c:10.3f} {r:14.1f} {f / r:10.2f}")


if __name__ == "__main__":
    main()
