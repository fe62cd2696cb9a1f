"""Per-pod cost of a stream of pods through the extender facade, in-process (no HTTP).

The matrix (`bench_extender_http.py --matrix`) sends the same pod to an unchanged cluster, so
it never pays for what a real stream pays on every pod: each bind adds a hold, so the next
pod's filter sees a new snapshot (the store's, then the telemetry overlay, then the fleet
index rows of the touched node). Here each pod is delivered as the watch would deliver it, then
filtered and prioritized on `--names` names and bound to its best node (binds go to a stand-in
binder that records nothing: the hold is what matters). Prints CPU ms per pod (the thread's
CPU time, so other load on a shared box does not count), median over `--pods`. Runs
against whatever `scheduler` is first on PYTHONPATH, so two trees compare:

    PYTHONPATH=OTHER_TREE python3 benchmarks/bench_pod_stream.py [--nodes 5000] [--pods 60]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

import extender_shapes as shapes  # noqa: E402


class NoApiBinder:
    """Stand-in for the Kubernetes binder: accepts every bind, writes nothing."""

    def bind(self, namespace: str, name: str, uid: str, node: str, placement: Any) -> None:
        return None


def main() -> None:
    from cli.serve import build_extender
    from scheduler.settings import Settings
    from scheduler.state.store import ClusterStore

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=5000)
    ap.add_argument("--inventory", default="annotation")
    ap.add_argument("--kind", default="whole")
    ap.add_argument("--names", type=int, default=500)
    ap.add_argument("--pods", type=int, default=60)
    args = ap.parse_args()
    doc, names = shapes.snapshot(args.inventory, args.nodes)
    store = ClusterStore()
    store.replace(doc["items"])
    ext = build_extender(store, Settings(), NoApiBinder())  # type: ignore[arg-type]
    ext.warm()
    gc.freeze()  # as `tessera serve` does once warm (cli/serve.py `_warm`)
    steps: dict[str, list[float]] = {"filter": [], "prioritize": [], "bind": [], "pod": []}
    for i in range(args.pods):
        pod = orjson.loads(orjson.dumps(shapes.pending(args.kind)))
        meta = pod["metadata"]
        meta["name"], meta["uid"] = f"{meta['name']}-{i}", f"{meta['uid']}-{i}"
        store.apply({"type": "ADDED", "object": pod})
        some = names[(i * args.names) % len(names):][: args.names] or names[: args.names]
        t0 = time.thread_time()
        passed = ext.filter(pod, some).passed
        t1 = time.thread_time()
        scores = ext.prioritize(pod, passed) if len(passed) > 1 else [(passed[0], 0)]
        t2 = time.thread_time()
        best = max(scores, key=lambda s: s[1])[0]
        err = ext.bind(meta["name"], meta.get("namespace", "default"), meta["uid"], best)
        t3 = time.thread_time()
        if err:
            raise SystemExit(f"bind failed: {err}")
        for k, v in zip(steps, (t1 - t0, t2 - t1, t3 - t2, t3 - t0), strict=True):
            steps[k].append(v)
    print(f"| nodes | kind | names | pods | {' | '.join(f'{k} CPU ms' for k in steps)} |")
    print("|---|---|---|---|" + "---|" * len(steps))
    cells = " | ".join(f"{statistics.median(v) * 1e3:.2f}" for v in steps.values())
    print(f"| {args.nodes:,} | {args.kind} | {args.names} | {args.pods} | {cells} |")


if __name__ == "__main__":
    main()
