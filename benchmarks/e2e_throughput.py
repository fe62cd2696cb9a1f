"""Pods/s of the real kube-scheduler with and without Tessera as its extender, on one cluster.

    python3 benchmarks/e2e_throughput.py [--nodes 500] [--pods 1000] [--bin-dir DIR]

Builds (or reuses) kube-apiserver/kube-scheduler/etcd from tests/e2e/cluster, starts etcd,
kube-apiserver and `tessera serve`, creates kubelet-less nodes with 8 H100s each, then for each
mode (plain; with Tessera and nodeCacheCapable true; and false) creates the pods with
kube-scheduler stopped, starts it and times first bind -> last bind. Prints a table; the ratios
are the claim (all runs share the machine, cluster and client limits).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devcluster import binaries  # noqa: E402
from devcluster.cluster import ClusterOptions, DevCluster  # noqa: E402
from devcluster.throughput import add_gpu_nodes, run_once  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=500)
    ap.add_argument("--pods", type=int, default=1000)
    ap.add_argument("--bin-dir", type=Path, default=None)
    args = ap.parse_args()
    if args.nodes < 1 or args.pods < 1 or args.pods > args.nodes * 8:
        print(f"error: need 1 <= --pods <= 8 x --nodes, got {args.pods}, {args.nodes}",
              file=sys.stderr)  # fmt: skip
        return 2
    bins = args.bin_dir or binaries.build()
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    with DevCluster(ClusterOptions(bin_dir=bins, tessera_env=env)) as cluster:
        add_gpu_nodes(cluster, args.nodes)
        runs = [
            run_once(cluster, args.pods, args.nodes, use_extender=u, node_cache_capable=c)
            for u, c in ((False, True), (True, True), (True, False))
        ]
    print(f"{'mode':<42} {'nodes':>6} {'pods':>6} {'bound':>6} {'seconds':>8} {'pods/s':>8}")
    for r in runs:
        print(f"{r.mode:<42} {r.nodes:>6} {r.pods:>6} {r.bound:>6} {r.seconds:>8.1f} "
              f"{r.pods_per_s:>8.1f}")  # fmt: skip
    base = runs[0]
    for r in runs[1:]:
        print(f"ratio kube-scheduler / {r.mode}: {base.pods_per_s / r.pods_per_s:.1f}x")
    return 0 if all(r.bound == r.pods for r in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
