"""`bench_extender_http.py --matrix`: every request kind x inventory source x size x name count.

For each (size, inventory) one `tessera serve --snapshot` process is started on a snapshot from
`extender_shapes.py`; one kept-alive client then sends, for every request kind, filter and
prioritize with 500 names (kube-scheduler's adaptive sample at 5,000 nodes) and with all names
(percentageOfNodesToScore: 100), and preempt with 50 candidate nodes and their running pods as
victims. Each cell prints p50 / p99 of the client's wall time per request.

`per-node` counts, for the same call made in-process on the same snapshot, how many times a
plugin's per-node `filter` / `score` method ran (cProfile call counts of functions defined in
`scheduler/policy/plugins/`): 0 means the request was answered on the vector (batch) path; any
other number names a cell that still falls back to the per-node plugin path.
"""

from __future__ import annotations

import cProfile
import pstats
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

import extender_shapes as shapes  # noqa: E402

SAMPLE = 500
PLUGIN_DIR = str(Path("scheduler") / "policy" / "plugins")


def per_node_calls(fn: Callable[[], object]) -> int:
    """How many per-node plugin `filter` / `score` calls one run of `fn` makes."""
    prof = cProfile.Profile()
    prof.runcall(fn)
    stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    return sum(
        calls
        for (path, _line, func), (calls, *_rest) in stats.items()
        if PLUGIN_DIR in path and func in ("filter", "score")
    )


def core_checks(
    doc: dict[str, Any], names: list[str], kinds: list[str], victims: dict[str, Any]
) -> dict[tuple[str, str, str], int]:
    """(kind, verb, names) -> per-node plugin calls, in-process, built as serve builds it."""
    from cli.serve import build_extender
    from scheduler.settings import Settings
    from scheduler.state.store import ClusterStore

    store = ClusterStore()
    store.replace(doc["items"])
    ext = build_extender(store, Settings())
    pre = {k: ([p["UID"] for p in v["Pods"]], 0) for k, v in victims.items()}
    out: dict[tuple[str, str, str], int] = {}
    for kind in kinds:
        pod = shapes.pending(kind)
        for label, some in (("500", names[:SAMPLE]), ("all", names)):
            for verb in ("filter", "prioritize"):
                call = getattr(ext, verb)
                call(pod, some)  # warm: a gang is planned here, as in the HTTP run

                def run(call: Any = call, pod: Any = pod, some: list[str] = some) -> object:
                    return call(pod, some)

                out[(kind, verb, label)] = per_node_calls(run)
        ext.preempt(pod, pre)
        out[(kind, "preempt", "50")] = per_node_calls(partial(ext.preempt, pod, pre))
    return out


def run_matrix(args: Any) -> None:
    import bench_extender_http as bench

    sizes = [int(s) for s in args.sizes.split(",")]
    inventories = args.inventories.split(",")
    kinds = args.kinds.split(",")
    rows: list[tuple[Any, ...]] = []
    for n in sizes:
        for inv in inventories:
            t_build = time.perf_counter()
            doc, names = shapes.snapshot(inv, n)
            pods = [x for x in doc["items"] if x["kind"] == "Pod"]
            victims = shapes.victims(pods, names)
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "snap.json"
                path.write_bytes(orjson.dumps(doc))
                proc, url = bench.start_server(path)
            try:
                checks = core_checks(doc, names, kinds, victims) if args.check else {}
                print(f"# {n} nodes, {inv}: server up, in-process checks done "
                      f"({time.perf_counter() - t_build:.0f} s)", file=sys.stderr)  # fmt: skip
                with bench.client(url) as c:
                    for kind in kinds:
                        pod = shapes.pending(kind)
                        plan = [(v, lab, orjson.dumps({"Pod": pod, "Nodes": None,
                                                       "NodeNames": some}))
                                for lab, some in (("500", names[:SAMPLE]), ("all", names))
                                for v in ("filter", "prioritize")]  # fmt: skip
                        plan.append(("preempt", "50", orjson.dumps(
                            {"Pod": pod, "NodeNameToMetaVictims": victims})))  # fmt: skip
                        for verb, label, body in plan:
                            c.post(f"/{verb}", content=body)  # warm-up (gang planned here)
                            xs = bench.measure(c, verb, body, args.samples, args.budget_s)
                            rows.append((n, inv, kind, verb, label, len(xs),
                                         bench.pct(xs, 0.5) * 1e3, bench.pct(xs, 0.99) * 1e3,
                                         checks.get((kind, verb, label), "")))  # fmt: skip
            finally:
                proc.send_signal(signal.SIGINT)
                proc.wait(timeout=60)
            print_rows(rows[-len(kinds) * 5:])
            sys.stdout.flush()
    print("\n## Summary (all cells)")
    print_rows(rows)
    verdicts(rows)


def print_rows(rows: list[tuple[Any, ...]]) -> None:
    print("| nodes | inventory | kind | verb | names | n | p50 ms | p99 ms | per-node calls |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n, inv, kind, verb, label, k, p50, p99, calls in rows:
        print(f"| {n:,} | {inv} | {kind} | {verb} | {label} | {k} | {p50:.2f} | {p99:.2f} "
              f"| {calls} |")  # fmt: skip


def verdicts(rows: list[tuple[Any, ...]]) -> None:
    """The issue's goals at 5,000 nodes, and every cell that falls back to the plugins."""
    for n, inv, kind, verb, label, _k, _p50, p99, _calls in rows:
        if n != 5000 or verb == "preempt":
            continue
        goal = 1.0 if label == "500" else 2.0
        if p99 > goal:
            print(f"MISS 5,000 nodes {inv} {kind} {verb} {label} names: p99 {p99:.2f} ms "
                  f"> {goal:.0f} ms")  # fmt: skip
    for n, inv, kind, verb, label, _k, _p50, p99, calls in rows:
        if isinstance(calls, int) and calls > 0:
            print(f"PER-NODE {n:,} nodes {inv} {kind} {verb} {label}: {calls} plugin calls, "
                  f"p99 {p99:.2f} ms")  # fmt: skip
