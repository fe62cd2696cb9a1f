"""HTTP extender benchmark: `tessera serve --snapshot` in its own process, driven over loopback.

For each cluster size (default 1,000 / 5,000 / 10,000 GPU nodes) a synthetic snapshot is
written (8 GPUs per node: 70% H100 nodes described by the agent annotation, a quarter of those
MIG-enabled with a 3g.40gb + 4g.40gb layout, 30% A100 nodes known from GFD labels only; one bound
pod per node), the real server is started on it, and one client with a kept-alive connection
(kube-scheduler calls extenders serially per pod) sends:

- filter and prioritize, nodeCacheCapable true (NodeNames) and false (full NodeList): a pending
  pod asking for one whole H100, all N nodes as candidates (percentageOfNodesToScore: 100);
- the same in cache mode with the sample kube-scheduler sends by default (`cache` = `sample`):
  numFeasibleNodesToFind = max(100, N * max(5, 50 - N/125) / 100) = 420 / 500 / 500 names;
- preempt (cache mode): 50 candidate nodes with 2 victim UIDs each.

The very first request (a sampled filter) is timed on its own: it would pay for building the
node index if the server had not built it before answering (`tessera serve` now does).
Then 4 concurrent clients send cache-mode filters for a few seconds: the sustained rate.
Latency is wall time per request at the client (connection reused, TCP_NODELAY as Go sets it).
Each verb gets up to `--samples` requests or `--budget-s` seconds, whichever ends first (at
least 5): `n` says how many, and with few samples p99 is simply the slowest. Beside the HTTP
figures, `srv CPU ms` is the server process's CPU time per request (from /proc; robust to
other load on the box, unlike wall time) and `core ms` is the same facade call made in-process on
the same snapshot (no HTTP, no JSON): the difference is the edge's own cost. Run:

    python3 benchmarks/bench_extender_http.py [--sizes 1000,5000,10000] [--samples 200]
    python3 benchmarks/bench_extender_http.py --matrix [--sizes ...] [--inventories ...]

`--matrix` runs every request kind x inventory source x size x name count instead
(`benchmarks/extender_matrix.py`).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout, installed or not
sys.path.insert(0, str(REPO / "benchmarks"))
H100 = "NVIDIA H100 80GB HBM3"


def gpu(i: int, mig: bool) -> dict[str, Any]:
    inst = [{"profile": "3g.40gb", "start": 4, "in_use": True},
            {"profile": "4g.40gb", "start": 0, "in_use": False}] if mig else []  # fmt: skip
    return {"index": i, "uuid": f"GPU-{i:04d}", "model": H100, "memory_mib": 81559,
            "mig": {"enabled": mig, "instances": inst},
            "health": {"xid_recent": [], "ecc_uncorrectable": 0, "remap_failure": False,
                       "temperature_c": 50},
            "load": {"utilization_pct": 30, "memory_used_mib": 1000, "power_w": 200}}  # fmt: skip


def node(i: int) -> dict[str, Any]:
    name = f"gpu-node-{i:05d}"
    meta: dict[str, Any] = {
        "name": name,
        "resourceVersion": str(1000 + i),
        "labels": {"kubernetes.io/hostname": name},
        "annotations": {},
    }
    alloc = {"cpu": "96", "memory": "1Ti", "pods": "110"}
    if i % 10 < 7:  # H100 node with the agent's annotation
        mig = i % 4 == 0
        meta["labels"]["nvidia.com/gpu.product"] = "NVIDIA-H100-80GB-HBM3"
        doc = {
            "version": 1,
            "updated": "2026-11-26T18:00:00Z",
            "gpus": [gpu(g, mig and g < 2) for g in range(8)],
        }
        meta["annotations"]["tessera.io/gpus"] = json.dumps(doc)
        alloc["nvidia.com/gpu"] = "8"
    else:  # A100 node, GFD labels and allocatable only
        meta["labels"].update(
            {
                "nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB",
                "nvidia.com/gpu.memory": "81920",
                "nvidia.com/gpu.count": "8",
            }
        )
        alloc["nvidia.com/gpu"] = "8"
    return {"kind": "Node", "apiVersion": "v1", "metadata": meta,
            "spec": {"podCIDR": "10.0.0.0/24"},
            "status": {"capacity": alloc, "allocatable": alloc,
                       "conditions": [{"type": "Ready", "status": "True"}],
                       "nodeInfo": {"kubeletVersion": "v1.37.2"}}}  # fmt: skip


def pod(name: str, node_name: str | None, gpus: int, uid: str) -> dict[str, Any]:
    req = {"nvidia.com/gpu": str(gpus), "cpu": "4", "memory": "32Gi"}
    spec: dict[str, Any] = {"containers": [{"name": "main", "image": "registry/train:1",
                                            "resources": {"requests": req, "limits": req}}],
                            "priority": 0}  # fmt: skip
    if node_name:
        spec["nodeName"] = node_name
    else:
        spec["nodeSelector"] = {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}
    return {"kind": "Pod", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": "default", "uid": uid},
            "spec": spec, "status": {"phase": "Running" if node_name else "Pending"}}  # fmt: skip


def snapshot(n: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    nodes = [node(i) for i in range(n)]
    pods = [pod(f"bound-{i}", nodes[i]["metadata"]["name"], 1 + i % 3, f"u-bound-{i}")
            for i in range(n) if i % 10 < 7]  # fmt: skip
    return {"apiVersion": "v1", "kind": "List", "items": nodes + pods}, nodes


def start_server(path: Path) -> tuple[subprocess.Popen[str], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    env["TESSERA_BODY_LIMIT_BYTES"] = str(512 * 1024 * 1024)
    proc = subprocess.Popen([sys.executable, "-m", "cli.main", "serve", "--snapshot", str(path),
                             "--port", "0"], cwd=REPO, env=env, text=True,
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)  # fmt: skip
    assert proc.stderr is not None
    while True:
        line = proc.stderr.readline()
        m = re.search(r"serving .* on (\S+)", line)
        if m:
            return proc, m.group(1)
        if not line and proc.poll() is not None:
            raise SystemExit(f"server failed to start (exit {proc.returncode})")


def feasible_sample(n: int) -> int:
    """kube-scheduler's numFeasibleNodesToFind with the default percentageOfNodesToScore."""
    if n < 100:
        return n
    pct = max(5, 50 - n // 125)
    return max(100, n * pct // 100)


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


class Client:
    """A lean keep-alive HTTP/1.1 client (stdlib `http.client`, TCP_NODELAY as Go sets it), so
    the client's own overhead stays small beside the server's."""

    def __init__(self, url: str) -> None:
        host, port = url.split("//", 1)[1].rsplit(":", 1)
        self.conn = http.client.HTTPConnection(host, int(port), timeout=600)
        self.conn.connect()
        assert self.conn.sock is not None
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def post(self, path: str, content: bytes) -> bytes:
        self.conn.request("POST", path, body=content, headers={"Content-Type": "application/json"})
        r = self.conn.getresponse()
        data = r.read()
        if r.status != 200:
            raise SystemExit(f"{path}: HTTP {r.status}: {data[:200]!r}")
        return data

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.conn.close()


def client(url: str) -> Client:
    return Client(url)


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of process `pid` (Linux /proc; 10 ms ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(c: Client, verb: str, body: bytes, samples: int, budget_s: float) -> list[float]:
    out: list[float] = []
    end = time.monotonic() + budget_s
    while len(out) < samples and (len(out) < 5 or time.monotonic() < end):
        t0 = time.perf_counter()
        c.post(f"/{verb}", content=body)
        out.append(time.perf_counter() - t0)
    return out


def sustained(url: str, body: bytes, clients: int, seconds: float) -> float:
    done = [0] * clients
    stop = time.monotonic() + seconds

    def run(k: int) -> None:
        with client(url) as c:
            while time.monotonic() < stop:
                c.post("/filter", content=body)
                done[k] += 1

    threads = [threading.Thread(target=run, args=(k,)) for k in range(clients)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / (time.monotonic() - t0)


def core_ms(
    doc: dict[str, Any], pending: dict[str, Any], lists: dict[str, list[str]]
) -> dict[tuple[str, str], str]:
    """p50 of the facade's own filter/prioritize per name list, in-process on the same snapshot,
    built exactly as `tessera serve --snapshot` builds it (same profile, telemetry wiring)."""
    from cli.serve import build_extender
    from scheduler.settings import Settings
    from scheduler.state.store import ClusterStore

    store = ClusterStore()
    store.replace(doc["items"])
    ext = build_extender(store, Settings())
    out = {}
    for mode, names in lists.items():
        for verb in ("filter", "prioritize"):
            fn = getattr(ext, verb)
            fn(pending, names)
            xs = []
            for _ in range(9):
                t0 = time.perf_counter()
                fn(pending, names)
                xs.append(time.perf_counter() - t0)
            out[(verb, mode)] = f"{statistics.median(xs) * 1e3:.2f}"
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,5000,10000")
    ap.add_argument("--samples", type=int, default=200, help="cache-mode samples per verb")
    ap.add_argument("--full-samples", type=int, default=20, help="full-NodeList samples")
    ap.add_argument("--budget-s", type=float, default=20.0, help="time cap per verb and size")
    ap.add_argument("--seconds", type=float, default=5.0, help="sustained-rate run length")
    ap.add_argument("--matrix", action="store_true",
                    help="every request kind x inventory x size x names (extender_matrix.py)")
    ap.add_argument("--inventories", default="annotation,gfd,mixed", help="with --matrix")
    ap.add_argument("--kinds", default="whole,milli,static-mig,dyn-mig-1,dyn-mig-3,gang,no-gpu",
                    help="with --matrix")
    ap.add_argument("--no-check", dest="check", action="store_false",
                    help="with --matrix: skip the in-process per-node fallback count")
    args = ap.parse_args()
    if args.matrix:
        from extender_matrix import run_matrix

        run_matrix(args)
        return
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        doc, nodes = snapshot(n)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "snap.json"
            path.write_bytes(orjson.dumps(doc))
            proc, url = start_server(path)
        try:
            pending = pod("bench-pending", None, 1, "u-pending")
            names = [x["metadata"]["name"] for x in nodes]
            cache = orjson.dumps({"Pod": pending, "Nodes": None, "NodeNames": names})
            # The default sample starts at a rotating index; any contiguous window will do.
            sample = names[: feasible_sample(n)]
            sampled = orjson.dumps({"Pod": pending, "Nodes": None, "NodeNames": sample})
            full = orjson.dumps({"Pod": pending, "Nodes": {"metadata": {}, "items": nodes},
                                 "NodeNames": None})  # fmt: skip
            victims = {nm: {"Pods": [{"UID": f"u-bound-{i}"}, {"UID": "u-other"}],
                            "NumPDBViolations": 0}
                       for i, nm in enumerate(names[:50])}  # fmt: skip
            preempt = orjson.dumps({"Pod": pending, "NodeNameToMetaVictims": victims})
            core = core_ms(doc, pending, {"true": names, "sample": sample})
            with client(url) as c:
                t0 = time.perf_counter()  # the first request after start: pays any cold index
                c.post("/filter", content=sampled)
                first = (time.perf_counter() - t0) * 1e3
                rows.append((n, "filter (1st request)", "sample", len(sampled), 1, first, first,
                             "", ""))  # fmt: skip
                plan = [("filter", "true", cache, args.samples),
                        ("prioritize", "true", cache, args.samples),
                        ("filter", "sample", sampled, args.samples),
                        ("prioritize", "sample", sampled, args.samples),
                        ("preempt", "true", preempt, args.samples),
                        ("filter", "false", full, args.full_samples),
                        ("prioritize", "false", full, args.full_samples)]  # fmt: skip
                for verb, mode, body, k in plan:
                    c.post(f"/{verb}", content=body)  # warm-up: snapshot and capacity caches
                    cpu0 = cpu_s(proc.pid)
                    xs = measure(c, verb, body, k, args.budget_s)
                    cpu = (cpu_s(proc.pid) - cpu0) / len(xs) * 1e3  # server CPU per request
                    rows.append((n, verb, mode, len(body), len(xs), statistics.median(xs) * 1e3,
                                 pct(xs, 0.99) * 1e3, f"{cpu:.2f}",
                                 core.get((verb, mode), "-")))  # fmt: skip
            rate = sustained(url, cache, 4, args.seconds)
            rows.append((n, "filter x4 clients", "true", len(cache), 0, 0.0, rate, "", ""))
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)
    head = ("nodes", "verb", "cache", "body KB", "n", "p50 ms", "p99 ms", "req/s", "srv CPU ms",
            "core ms")  # fmt: skip
    print("{:>6} {:<18} {:<6} {:>8} {:>4} {:>8} {:>8} {:>7} {:>10} {:>8}".format(*head))
    for n, verb, mode, size, k, p50, p99, srv, core_p50 in rows:
        kb = f"{size / 1024:.0f}"
        cells: tuple[object, ...]
        if k == 0:  # sustained-rate row: p99 holds the rate
            cells = (n, verb, mode, kb, "", "", "", f"{p99:.0f}", "", "")
        else:
            cells = (n, verb, mode, kb, k, f"{p50:.2f}", f"{p99:.2f}", f"{1e3 / p50:.0f}", srv,
                     core_p50)  # fmt: skip
        print("{:>6} {:<18} {:<6} {:>8} {:>4} {:>8} {:>8} {:>7} {:>10} {:>8}".format(*cells))


if __name__ == "__main__":
    main()
