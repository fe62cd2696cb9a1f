"""Where `tessera serve`'s time per extender request goes: py-spy samples the live server.

One `tessera serve --snapshot` process is started on the extender matrix's snapshot
(`extender_shapes.py`, default 5,000 nodes, annotation inventory); one kept-alive client (as in
`bench_extender_http.py`) sends whole-GPU filter and prioritize requests with 500 names,
alternating, for `--seconds`, while `py-spy record --gil` samples the server: only the thread
holding the GIL, so the epoll wait and the sleeping background threads are not sampled, while C
code run with the GIL held (orjson, numpy, uvloop's socket writes) is charged to the Python frame
that called it. Each sample goes to the innermost frame that belongs to a component below; the
table prints each component's share of the samples and its CPU ms per request (share x the
server's CPU time / requests; py-spy's pauses inflate that CPU time somewhat). Needs `py-spy`
(a dev tool, not a project dependency) and ptrace rights on the server process. Run:

    python3 benchmarks/profile_extender_http.py [--nodes 5000] [--kind whole] [--seconds 20]
"""

from __future__ import annotations

import argparse
import collections
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_extender_http as bench  # noqa: E402
import extender_shapes as shapes  # noqa: E402

# (component, substrings of a frame's "function (file:line)"): the first component, walking
# from the innermost frame outwards, that matches a frame gets the sample.
COMPONENTS = [
    ("JSON decode (safejson, wire.decode_*)", ("safejson.py", "decode_")),
    ("response encoding (wire.encode_*)", ("encode_", "nodebytes.py")),
    ("metrics (prometheus_client, api/metrics.py)", ("prometheus_client", "api/metrics.py")),
    ("policy core (port, policy, state)", ("scheduler/policy", "scheduler/state",
                                           "api/adapter.py", "packing/")),
    ("verb wrapper (api/app.py, fastpath.py)", ("api/app.py", "api/fastpath.py")),
    ("starlette/fastapi middleware", ("starlette/", "fastapi/")),
    ("uvicorn HTTP (httptools protocol)", ("uvicorn/",)),
    ("threadpool hop (anyio, threading)", ("anyio/", "threading.py", "concurrent/")),
    ("asyncio event loop", ("asyncio/",)),
]  # fmt: skip


def classify(stack: str) -> str:
    frames = stack.split(";")
    for frame in reversed(frames):  # innermost first
        for name, keys in COMPONENTS:
            if any(k in frame for k in keys):
                return name
    return "other (interpreter, GC, unattributed)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=5000)
    ap.add_argument("--inventory", default="annotation")
    ap.add_argument("--kind", default="whole")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--rate", type=int, default=500, help="py-spy samples per second")
    ap.add_argument("--keep", type=Path, help="also copy py-spy's raw stacks to this file")
    args = ap.parse_args()
    spy = shutil.which("py-spy")
    if spy is None:
        raise SystemExit("py-spy is not installed (pip install py-spy)")
    doc, names = shapes.snapshot(args.inventory, args.nodes)
    pod = shapes.pending(args.kind)
    bodies = [(v, orjson.dumps({"Pod": pod, "Nodes": None, "NodeNames": names[:500]}))
              for v in ("filter", "prioritize")]  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "snap.json"
        path.write_bytes(orjson.dumps(doc))
        proc, url = bench.start_server(path)
        out = Path(tmp) / "stacks.txt"
        try:
            with bench.client(url) as c:
                for verb, body in bodies:  # warm-up: snapshot and capacity caches
                    c.post(f"/{verb}", content=body)
                spy_proc = subprocess.Popen(
                    [spy, "record", "--pid", str(proc.pid), "--rate", str(args.rate),
                     "--format", "raw", "--output", str(out), "--duration",
                     str(int(args.seconds)), "--gil"],
                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
                time.sleep(1.0)  # py-spy attaches
                cpu0, t0, n = bench.cpu_s(proc.pid), time.monotonic(), 0
                lat: dict[str, list[float]] = {"filter": [], "prioritize": []}
                while spy_proc.poll() is None:
                    verb, body = bodies[n % 2]
                    s = time.perf_counter()
                    c.post(f"/{verb}", content=body)
                    lat[verb].append(time.perf_counter() - s)
                    n += 1
                cpu, wall = bench.cpu_s(proc.pid) - cpu0, time.monotonic() - t0
            if spy_proc.returncode != 0:
                err = spy_proc.stderr.read() if spy_proc.stderr else ""
                raise SystemExit(f"py-spy failed ({spy_proc.returncode}): {err.strip()[-300:]}")
            if args.keep:
                shutil.copyfile(out, args.keep)
            shares: collections.Counter[str] = collections.Counter()
            for line in out.read_text().splitlines():
                stack, _, count = line.rpartition(" ")
                if stack:
                    shares[classify(stack)] += int(count)
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=60)
    total = sum(shares.values())
    print(f"# {args.nodes} nodes, {args.inventory}, {args.kind}, 500 names: {n} requests in "
          f"{wall:.1f} s under py-spy at {args.rate} Hz; server CPU {cpu * 1e3 / n:.2f} ms per "
          f"request; client p50 filter {bench.pct(lat['filter'], 0.5) * 1e3:.2f} ms, "
          f"prioritize {bench.pct(lat['prioritize'], 0.5) * 1e3:.2f} ms; "
          f"{total} samples")  # fmt: skip
    print("| component | share of samples | CPU ms per request |")
    print("|---|---|---|")
    for name, k in shares.most_common():
        print(f"| {name} | {k / total:.1%} | {k / total * cpu * 1e3 / n:.3f} |")


if __name__ == "__main__":
    main()
