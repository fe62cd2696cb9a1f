"""Resident memory of `tessera serve --snapshot` at 1,000 / 5,000 / 10,000 nodes (~4 pods each).

For each size the snapshot from `extender_shapes.py` (inventory `mixed` by default: agent
annotations on half the nodes, GFD labels on the rest) is written, the real server started,
one filter and one prioritize with all names sent (so the fleet index and request caches
exist), and VmRSS / VmHWM read from /proc. `--top N` also builds the same store and extender
in this process under tracemalloc and prints the N source lines holding the most memory.

    python3 benchmarks/bench_memory.py [--sizes 1000,5000,10000] [--inventory mixed] [--top 15]
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import tracemalloc
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_extender_http as bench  # noqa: E402
import extender_shapes as shapes  # noqa: E402


def status_mb(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def served(inventory: str, n: int) -> tuple[int, float, float]:
    doc, names = shapes.snapshot(inventory, n)
    pods = sum(1 for x in doc["items"] if x["kind"] == "Pod")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "snap.json"
        path.write_bytes(orjson.dumps(doc))
        del doc
        proc, url = bench.start_server(path)
    try:
        body = orjson.dumps({"Pod": shapes.pending("whole"), "Nodes": None, "NodeNames": names})
        with bench.client(url) as c:
            c.post("/filter", content=body)
            c.post("/prioritize", content=body)
        return pods, status_mb(proc.pid, "VmRSS"), status_mb(proc.pid, "VmHWM")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)


def top(inventory: str, n: int, k: int) -> None:
    from cli.serve import build_extender, snapshot_store
    from scheduler.settings import Settings

    doc, names = shapes.snapshot(inventory, n)
    with tempfile.TemporaryDirectory() as tmp:  # loaded as `serve --snapshot` loads it
        path = Path(tmp) / "snap.json"
        path.write_bytes(orjson.dumps(doc))
        del doc
        tracemalloc.start()
        store = snapshot_store(path)
    ext = build_extender(store, Settings())
    ext.warm()
    pod = shapes.pending("whole")
    ext.filter(pod, names)
    ext.prioritize(pod, names)
    snap = tracemalloc.take_snapshot()
    stats = snap.statistics("lineno")
    total = sum(s.size for s in stats) / 2**20
    print(f"\ntracemalloc, {n} nodes ({inventory}): {total:.1f} MiB traced; top {k} lines:")
    for s in stats[:k]:
        frame = s.traceback[0]
        print(f"{s.size / 2**20:8.1f} MiB {s.count:>9} blocks  {frame.filename}:{frame.lineno}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,5000,10000")
    ap.add_argument("--inventory", default="mixed", choices=shapes.INVENTORIES)
    ap.add_argument("--top", type=int, default=0, help="tracemalloc top lines at the middle size")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print("| nodes | pods | RSS MB | peak RSS MB | RSS MB per 1,000 nodes |")
    print("|---|---|---|---|---|")
    for n in sizes:
        pods, rss, hwm = served(args.inventory, n)
        print(f"| {n:,} | {pods:,} | {rss:.0f} | {hwm:.0f} | {rss / n * 1000:.1f} |", flush=True)
    if args.top:
        top(args.inventory, sizes[len(sizes) // 2], args.top)


if __name__ == "__main__":
    main()
