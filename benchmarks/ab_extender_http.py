"""Before/after of the extender's HTTP path: two checkouts' `tessera serve`, back to back.

Each tree's server (`--before DIR`, `--after DIR`: repository roots, e.g. a `git worktree` of
the base commit and the working tree) is started on the same matrix snapshot
(`extender_shapes.py`), and one kept-alive client sends the same filter and prioritize requests
to both, alternating servers every `--chunk` requests, so load on a shared box falls on both
alike. Per verb and name count it prints p50/p99 wall ms at the client and the server
process's CPU ms per request (from /proc), each tree's, and after/before ratios. Run:

    python3 benchmarks/ab_extender_http.py --before ../base --after . [--nodes 5000]
        [--inventory annotation] [--kinds whole,no-gpu] [--samples 400]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_extender_http as bench  # noqa: E402
import extender_shapes as shapes  # noqa: E402


def start(tree: Path, snap: Path) -> tuple[object, str]:
    bench.REPO = tree.resolve()  # start_server runs `python -m cli.main` from bench.REPO
    return bench.start_server(snap)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", type=Path, required=True)
    ap.add_argument("--after", type=Path, required=True)
    ap.add_argument("--nodes", type=int, default=5000)
    ap.add_argument("--inventory", default="annotation")
    ap.add_argument("--kinds", default="whole,no-gpu")
    ap.add_argument("--samples", type=int, default=400, help="requests per tree per cell")
    ap.add_argument("--chunk", type=int, default=20, help="requests per turn on one server")
    args = ap.parse_args()
    doc, names = shapes.snapshot(args.inventory, args.nodes)
    trees = {"before": args.before, "after": args.after}
    print("| kind | verb | names | before p50 / p99 ms | after p50 / p99 ms | p99 ratio "
          "| before / after srv CPU ms | CPU ratio |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        snap = Path(tmp) / "snap.json"
        snap.write_bytes(orjson.dumps(doc))
        servers = {k: start(t, snap) for k, t in trees.items()}
        try:
            clients = {k: bench.client(url) for k, (_, url) in servers.items()}
            for kind in args.kinds.split(","):
                pod = shapes.pending(kind)
                for verb in ("filter", "prioritize"):
                    for label, some in (("500", names[:500]), ("all", names)):
                        body = orjson.dumps({"Pod": pod, "Nodes": None, "NodeNames": some})
                        for c in clients.values():  # warm both
                            bench.measure(c, verb, body, 5, 0)
                        lat: dict[str, list[float]] = {k: [] for k in trees}
                        cpu = dict.fromkeys(trees, 0.0)
                        while min(map(len, lat.values())) < args.samples:
                            for k, c in clients.items():
                                pid = servers[k][0].pid  # type: ignore[attr-defined]
                                c0 = bench.cpu_s(pid)
                                lat[k] += bench.measure(c, verb, body, args.chunk, 0)
                                cpu[k] += bench.cpu_s(pid) - c0
                        p = {k: (bench.pct(v, 0.5) * 1e3, bench.pct(v, 0.99) * 1e3)
                             for k, v in lat.items()}  # fmt: skip
                        ms = {k: cpu[k] * 1e3 / len(lat[k]) for k in trees}
                        print(f"| {kind} | {verb} | {label} | {p['before'][0]:.2f} / "
                              f"{p['before'][1]:.2f} | {p['after'][0]:.2f} / {p['after'][1]:.2f} "
                              f"| {p['after'][1] / p['before'][1]:.2f} | {ms['before']:.2f} / "
                              f"{ms['after']:.2f} | {ms['after'] / max(ms['before'], 1e-9):.2f} |",
                              flush=True)  # fmt: skip
            for c in clients.values():
                c.conn.close()
        finally:
            for proc, _ in servers.values():
                proc.terminate()  # type: ignore[attr-defined]
                proc.wait()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
