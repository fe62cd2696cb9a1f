"""Pods/s of the real kube-scheduler with and without Tessera as its extender, on one cluster.

    python3 benchmarks/e2e_throughput.py [--nodes 500] [--pods 1000] [--bin-dir DIR]
        [--modes plain,cache,nocache] [--choose-in-filter]

Builds (or reuses) kube-apiserver/kube-scheduler/etcd from tests/e2e/cluster, starts etcd,
kube-apiserver and `tessera serve`, creates kubelet-less nodes with 8 H100s each, then for each
mode (plain; with Tessera and nodeCacheCapable true; and false) creates the pods with
kube-scheduler stopped, starts it and times first bind -> last bind. Prints a table; the ratios
are the claim (all runs share the machine, cluster and client limits).

Where the time goes, per bound pod of each Tessera run: the server's own time per verb (from
`tessera_extender_request_duration_seconds` on its /metrics, before minus after the run: time
from the request's arrival to its answer) against the wall time per pod. The rest is
kube-scheduler's own cycle, the HTTP round trips and JSON on its side, and the apiserver.
"""

from __future__ import annotations

import argparse
import os
import sys
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devcluster import binaries  # noqa: E402
from devcluster.cluster import ClusterOptions, DevCluster  # noqa: E402
from devcluster.throughput import Run, add_gpu_nodes, run_once  # noqa: E402

MODES = {"plain": (False, True), "cache": (True, True), "nocache": (True, False)}
VERB_METRIC = "tessera_extender_request_duration_seconds"


def verb_seconds(url: str) -> dict[str, tuple[float, float]]:
    """verb -> (requests, seconds) from Tessera's request-duration histogram."""
    text = urllib.request.urlopen(url + "/metrics", timeout=10).read().decode()
    out: dict[str, list[float]] = {}
    for line in text.splitlines():
        for part, slot in (("_count{", 0), ("_sum{", 1)):
            if line.startswith(VERB_METRIC + part):
                verb = line.split('verb="', 1)[1].split('"', 1)[0]
                out.setdefault(verb, [0.0, 0.0])[slot] = float(line.rsplit(" ", 1)[1])
    return {v: (c, t) for v, (c, t) in out.items()}


def closed_connections(port: int) -> int:
    """Loopback TCP connections to or from `port` in TIME_WAIT (closed within the last ~60 s):
    about one per request when the client does not keep connections alive, a few if it does."""
    n = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        f = line.split()
        ports = {int(f[1].rsplit(":", 1)[1], 16), int(f[2].rsplit(":", 1)[1], 16)}
        n += f[3] == "06" and port in ports  # 06: TIME_WAIT
    return n


def breakdown(run: Run, before: dict[str, tuple[float, float]],
              after: dict[str, tuple[float, float]]) -> str:
    """Server time per bound pod, by verb, next to the wall time per pod. Filter and
    prioritize sit in kube-scheduler's scheduling cycle (one pod at a time); bind runs in its
    binding cycle, concurrently with later pods, so its time overlaps the wall time."""
    if not run.bound:
        return f"{run.mode}: nothing bound"
    wall_ms = 1000 * run.seconds / run.bound
    parts, cycle = [], 0.0
    for verb in sorted(after):
        n = after[verb][0] - before.get(verb, (0.0, 0.0))[0]
        t = after[verb][1] - before.get(verb, (0.0, 0.0))[1]
        if n:
            if verb != "bind":
                cycle += 1000 * t / run.bound
            parts.append(f"{verb} {n / run.bound:.2f} req/pod x {1000 * t / n:.2f} ms")
    return (f"{run.mode}: wall {wall_ms:.1f} ms/pod; Tessera server time in the scheduling "
            f"cycle (filter + prioritize) {cycle:.1f} ms/pod, the other {wall_ms - cycle:.1f} "
            f"ms/pod are kube-scheduler, HTTP/JSON and the apiserver ({', '.join(parts)})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=500)
    ap.add_argument("--pods", type=int, default=1000)
    ap.add_argument("--bin-dir", type=Path, default=None)
    ap.add_argument("--choose-in-filter", action="store_true",
                    help="Tessera with choose_in_filter: true (kube-scheduler skips prioritize)")
    ap.add_argument("--modes", default="plain,cache,nocache",
                    help="plain (no extender), cache (nodeCacheCapable true), nocache (false)")
    args = ap.parse_args()
    modes = args.modes.split(",")
    if not modes or any(m not in MODES for m in modes):
        print(f"error: --modes takes {', '.join(MODES)}, got {args.modes!r}", file=sys.stderr)
        return 2
    if args.nodes < 1 or args.pods < 1 or args.pods > args.nodes * 8:
        print(f"error: need 1 <= --pods <= 8 x --nodes, got {args.pods}, {args.nodes}",
              file=sys.stderr)  # fmt: skip
        return 2
    bins = args.bin_dir or binaries.build()
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    if args.choose_in_filter:
        env["TESSERA_CHOOSE_IN_FILTER"] = "true"
    with DevCluster(ClusterOptions(bin_dir=bins, tessera_env=env)) as cluster:
        add_gpu_nodes(cluster, args.nodes)
        runs, notes = [], []
        for m in modes:
            use, cache = MODES[m]
            before = verb_seconds(cluster.tessera_url) if use else {}
            r = run_once(cluster, args.pods, args.nodes, use_extender=use, node_cache_capable=cache)
            runs.append(r)
            closed = closed_connections(int(cluster.tessera_url.rsplit(":", 1)[1]))
            note = breakdown(r, before, verb_seconds(cluster.tessera_url)) if use else r.mode
            notes.append(f"{note}; connections to Tessera's port closed in the last ~60 s "
                         f"(TIME_WAIT; health probes included): {closed}")
    print(f"{'mode':<42} {'nodes':>6} {'pods':>6} {'bound':>6} {'seconds':>8} {'pods/s':>8}")
    for r in runs:
        print(f"{r.mode:<42} {r.nodes:>6} {r.pods:>6} {r.bound:>6} {r.seconds:>8.1f} "
              f"{r.pods_per_s:>8.1f}")  # fmt: skip
    base = runs[0]
    for r in runs[1:]:
        if modes[0] == "plain":
            print(f"ratio {r.mode} / kube-scheduler: {r.pods_per_s / base.pods_per_s:.2f} "
                  f"({base.pods_per_s / r.pods_per_s:.1f}x slower)")
    for note in notes:
        print(note)
    return 0 if all(r.bound == r.pods for r in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
