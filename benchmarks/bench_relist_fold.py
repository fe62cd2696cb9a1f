"""CPU seconds for `ClusterStore.replace` of N nodes x 8 GPUs and one bound one-GPU pod per GPU,
each with an honest `tessera.io/placement` (the relist a restart pays). Prints a table.

    PYTHONPATH=$PWD python3 benchmarks/bench_relist_fold.py [--nodes 1000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import time

from scheduler.state.store import ClusterStore
from tests.builders import gpu_json, node_json, pod_json


def cluster(nodes: int) -> list[dict[str, object]]:
    objs: list[dict[str, object]] = []
    for n in range(nodes):
        objs.append(node_json(f"n{n}", [gpu_json(g) for g in range(8)]))
        for g in range(8):
            doc = {"version": 1, "node": f"n{n}", "gpus": [{"index": g, "uuid": f"GPU-{g:04d}"}]}
            notes = {"tessera.io/placement": json.dumps(doc)}
            pod = pod_json(f"p{n}-{g}", {"nvidia.com/gpu": "1"}, node=f"n{n}", phase="Running",
                           annotations=notes)  # fmt: skip
            objs.append(pod)
    return objs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    objs = cluster(args.nodes)
    print("| run | nodes | bound pods | replace CPU s |")
    print("|---|---|---|---|")
    for i in range(args.repeats):
        store = ClusterStore()
        t0 = time.process_time()
        store.replace(objs)
        print(f"| {i + 1} | {args.nodes} | {8 * args.nodes} | {time.process_time() - t0:.2f} |")


if __name__ == "__main__":
    main()
