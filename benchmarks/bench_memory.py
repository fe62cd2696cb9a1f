"""Resident memory of `tessera serve --snapshot` at 1,000 / 5,000 / 10,000 nodes (~4 pods each).

For each size the snapshot from `extender_shapes.py` (inventory `mixed` by default: agent
annotations on half the nodes, GFD labels on the rest) is written, the real server started,
one filter and one prioritize with all names sent (so the fleet index and request caches
exist), and VmRSS / VmHWM read from /proc. `--top N` also builds the same store and extender
in this process under tracemalloc and prints the N source lines holding the most memory.

`--paths` compares the two ways a serving process fills its store, each in a fresh process
with the live-cluster imports (the `kubernetes` client included) and no HTTP server: the
snapshot file (`serve --snapshot`) and the real `ApiSource.list` + `Informer.relist` reading
pages of 500 objects from a stand-in REST object (what `serve --kubeconfig` does against an
apiserver). It prints RSS after the imports and after load, warm, filter and prioritize.

    python3 benchmarks/bench_memory.py [--sizes 1000,5000,10000] [--inventory mixed] [--top 15]
    python3 benchmarks/bench_memory.py --sizes 5000 --paths
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import signal
import subprocess
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
    """`key` (VmRSS, VmHWM) of process `pid` (0: this one) in MB."""
    for line in Path(f"/proc/{pid or 'self'}/status").read_text().splitlines():
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


def write_paths(inventory: str, n: int, tmp: Path) -> int:
    """The snapshot file and, per kind, the list pages an apiserver would send (one per line)."""
    doc, names = shapes.snapshot(inventory, n)
    (tmp / "snap.json").write_bytes(orjson.dumps(doc))
    (tmp / "names.json").write_bytes(orjson.dumps(names))
    by_kind: dict[str, list[dict]] = {"Node": [], "Pod": []}
    for obj in doc["items"]:
        by_kind[obj["kind"]].append({k: v for k, v in obj.items() if k != "kind"})
    for kind, items in by_kind.items():
        chunks = [items[i : i + 500] for i in range(0, len(items), 500)]
        with (tmp / f"{kind}.jsonl").open("wb") as f:
            for j, chunk in enumerate(chunks):
                more = str(j + 1) if j + 1 < len(chunks) else ""
                meta = {"continue": more, "resourceVersion": "1"}
                f.write(orjson.dumps({"items": chunk, "metadata": meta}) + b"\n")
    return len(by_kind["Pod"])


def child(path_kind: str, tmp: Path) -> None:
    """One fresh process: live-mode imports, then the store filled one way, then warm + verbs."""
    import cli.serve as serve
    import scheduler.kube.binder
    import scheduler.kube.client  # noqa: F401 -- the live-cluster import set
    from scheduler.kube.watch import NODES, PODS, ApiSource, Informer
    from scheduler.settings import Settings
    from scheduler.state.store import ClusterStore

    names = orjson.loads((tmp / "names.json").read_bytes())
    pages = {k: (tmp / f"{k}.jsonl").read_bytes().splitlines() for k in ("Node", "Pod")}

    class PagedRest:  # stand-in for KubeRest.request: the apiserver's paginated list
        def request(self, method: str, path: str, *, query: list) -> dict:
            token = dict(query).get("continue") or "0"
            return orjson.loads(pages["Node" if path == NODES.path else "Pod"][int(token)])

    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    before = status_mb(0, "VmRSS")
    if path_kind == "snapshot":
        store = serve.snapshot_store(tmp / "snap.json")
    else:
        store = ClusterStore()
        for res in (NODES, PODS):
            Informer(res, ApiSource(PagedRest()), store).relist()  # type: ignore[arg-type]
    pages.clear()
    ext = serve.build_extender(store, Settings())
    serve._warm(ext)
    pod = shapes.pending("whole")
    ext.filter(pod, names)
    ext.prioritize(pod, names)
    print(f"{before:.0f} {status_mb(0, 'VmRSS'):.0f}")


def paths(inventory: str, sizes: list[int]) -> None:
    print("\n| nodes | pods | store filled from | RSS MB, imports | RSS MB, load + verbs |")
    print("|---|---|---|---|---|")
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            pods = write_paths(inventory, n, Path(tmp))
            for kind in ("snapshot", "informer"):
                out = subprocess.run(
                    [sys.executable, __file__, "--child", kind, tmp],
                    capture_output=True, text=True, check=True,
                ).stdout.split()  # fmt: skip
                print(f"| {n:,} | {pods:,} | {kind} | {out[0]} | {out[1]} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,5000,10000")
    ap.add_argument("--inventory", default="mixed", choices=shapes.INVENTORIES)
    ap.add_argument("--top", type=int, default=0, help="tracemalloc top lines at the middle size")
    ap.add_argument("--paths", action="store_true", help="snapshot vs informer fill, in-process")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args.child[0], Path(args.child[1]))
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.paths:
        return paths(args.inventory, sizes)
    print("| nodes | pods | RSS MB | peak RSS MB | RSS MB per 1,000 nodes |")
    print("|---|---|---|---|---|")
    for n in sizes:
        pods, rss, hwm = served(args.inventory, n)
        print(f"| {n:,} | {pods:,} | {rss:.0f} | {hwm:.0f} | {rss / n * 1000:.1f} |", flush=True)
    if args.top:
        top(args.inventory, sizes[len(sizes) // 2], args.top)


if __name__ == "__main__":
    main()
