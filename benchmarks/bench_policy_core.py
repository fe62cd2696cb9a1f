"""Policy core benchmark: vectorised filter/prioritize vs the plugin-by-plugin path, in-process.

Builds a synthetic cluster through the real parsers and store (8 H100s per node, GPUs 6-7 with
MIG on, one bound whole-GPU pod on 60% of the nodes), then times `Extender.filter` and
`Extender.prioritize` with every node as a candidate, for whole-GPU, share and MIG pods, on the
fleet-index path and on the plugin path (the same Extender with the plugins' batch methods
switched off: `Profile(batch=False)`),
side by side in one run. Also times the first filter after a bind (one dirty row). Run:

    python3 benchmarks/bench_policy_core.py [--sizes 1000,5000] [--repeats 15]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from dataclasses import replace
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scheduler.state.extender import Extender  # noqa: E402
from scheduler.state.store import ClusterStore  # noqa: E402

H100 = "NVIDIA H100 80GB HBM3"
PODS = {
    "whole x2": {"nvidia.com/gpu": 2},
    "share 300": {"tessera.io/gpu-milli": 300, "tessera.io/gpu-memory-mib": 20000},
    "mig 3g dyn": {"tessera.io/mig-3g.40gb": 1},
}


def _gpu(i: int) -> dict:
    return {"index": i, "uuid": f"GPU-{i}", "model": H100, "memory_mib": 81559,
            "mig": {"enabled": i >= 6, "instances": []},
            "health": {"xid_recent": [], "ecc_uncorrectable": 0, "remap_failure": False,
                       "temperature_c": 50}}  # fmt: skip


def _pod(name: str, req: dict, node: str | None = None) -> dict:
    spec: dict = {"containers": [{"name": "c", "resources": {"requests": req}}]}
    if node:
        spec["nodeName"] = node
    return {"kind": "Pod", "metadata": {"name": name, "namespace": "b", "uid": f"u-{name}"},
            "spec": spec, "status": {"phase": "Running" if node else "Pending"}}  # fmt: skip


def cluster(n: int) -> tuple[ClusterStore, list[str]]:
    store = ClusterStore()
    doc = json.dumps({"version": 1, "gpus": [_gpu(i) for i in range(8)]})
    names = [f"node-{i:05d}" for i in range(n)]
    rng = random.Random(0)
    for name in names:
        store.apply({"type": "ADDED", "object": {
            "kind": "Node", "metadata": {"name": name, "annotations": {"tessera.io/gpus": doc}},
            "status": {"allocatable": {"cpu": "64", "memory": "512Gi"}}}})  # fmt: skip
        if rng.random() < 0.6:
            store.apply({"type": "ADDED", "object": _pod(f"bound-{name}", {"nvidia.com/gpu": 1},
                                                         name)})  # fmt: skip
    return store, names


class AcceptingBinder:
    """Accepts every bind without an apiserver: this benchmark measures the core only."""

    def bind(self, namespace, name, uid, node, placement) -> None:  # noqa: ANN001
        return None


def timed(fn, repeats: int) -> tuple[float, float]:
    fn()  # warm: first call builds the index / memo
    xs = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        xs.append((time.perf_counter() - t) * 1000)
    xs.sort()
    return statistics.median(xs), xs[min(len(xs) - 1, int(0.99 * len(xs)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,5000")
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args()
    print("| nodes | pod | verb | vector p50 ms | vector p99 ms | plugins p50 ms | speed-up |")
    print("|---|---|---|---|---|---|---|")
    for n in (int(x) for x in args.sizes.split(",")):
        store, names = cluster(n)
        ext = Extender(store, AcceptingBinder(), clock=lambda: 1e6)
        for label, req in PODS.items():
            pod = _pod("p", req)
            for verb in ("filter", "prioritize"):
                call = getattr(ext, verb)
                run = partial(call, pod, names)
                vec = timed(run, args.repeats)
                batch = ext.profile
                ext.profile = replace(batch, batch=False)  # the per-node path, same process
                try:
                    slow = timed(run, max(3, args.repeats // 5))
                finally:
                    ext.profile = batch
                print(f"| {n:,} | {label} | {verb} | {vec[0]:.2f} | {vec[1]:.2f} | "
                      f"{slow[0]:.1f} | {slow[0] / vec[0]:.0f}x |")  # fmt: skip
        # One bind dirties one row: the next filter updates that row only.
        pod = _pod("q", {"nvidia.com/gpu": 1})
        store.apply({"type": "ADDED", "object": pod})
        xs = []
        for i in range(args.repeats):
            p = _pod(f"q{i}", {"nvidia.com/gpu": 1})
            store.apply({"type": "ADDED", "object": p})
            r = ext.filter(p, names)
            node = next(iter(r.passed))
            ext.bind(f"q{i}", "b", f"u-q{i}", node)
            t = time.perf_counter()
            ext.filter(pod, names)
            xs.append((time.perf_counter() - t) * 1000)
        print(f"| {n:,} | whole x1 | filter after a bind | {statistics.median(xs):.2f} | "
              f"{max(xs):.2f} | - | - |")  # fmt: skip


if __name__ == "__main__":
    main()
