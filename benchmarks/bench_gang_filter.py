"""A single GPU pod's filter while gangs wait, after each departure, in-process (no HTTP).

Every GPU pod's filter first plans the waiting gangs that rank before it and have no live
record (`GangCoordinator.earlier_first`); a departure drops every recorded failure, so the
first filter after it plans each waiting gang again. Here the cluster is full of 1-GPU pods,
`--gangs` 4 x 8-GPU gangs wait (none fits), and each round one pod leaves and one new 1-GPU
pod is filtered over every node. Prints the filter's wall ms, median and p95 over `--rounds`,
with no gang waiting and with `--gangs`. Runs against whatever `scheduler` is first on
PYTHONPATH, so two trees compare:

    PYTHONPATH=OTHER_TREE python3 benchmarks/bench_gang_filter.py [--nodes 16,200] [--gangs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scheduler.state.extender import Extender  # noqa: E402
from scheduler.state.store import ClusterStore  # noqa: E402
from tests.builders import event, gang_member_json, gpu_json, node_json, pod_json  # noqa: E402
from tests.scheduler.state.conftest import Clock, RecordingBinder  # noqa: E402


def run(nodes: int, gangs: int, rounds: int) -> tuple[float, float]:
    clock = Clock()
    ext = Extender(ClusterStore(), RecordingBinder(), clock=clock)
    names = [f"n{i}" for i in range(nodes)]
    busy = []
    for n in names:
        ext.store.apply(event(node_json(n, [gpu_json(i) for i in range(8)])))
        for g in range(8):
            p = pod_json(f"b-{n}-{g}", {"nvidia.com/gpu": 1}, node=n, phase="Running")
            ext.store.apply(event(p))
            busy.append(p)
    for k in range(gangs):
        for i in range(4):
            member = gang_member_json(f"g{k}m{i}", {"nvidia.com/gpu": 8}, f"g{k}", 4)
            ext.store.apply(event(member))
    ext.recover_gangs()
    times = []
    for r in range(min(rounds, len(busy) - 1)):
        ext.store.apply(event(busy.pop((r * 37) % len(busy)), "DELETED"))  # spread: no node empties
        p = pod_json(f"s{r}", {"nvidia.com/gpu": 1})
        ext.store.apply(event(p))
        t0 = time.perf_counter()
        ext.filter(p, names)
        times.append(time.perf_counter() - t0)
        clock.t += 0.5
        if r % 4 == 0:
            ext.recover_gangs()  # the 2 s pass, every fourth half-second round
    times.sort()
    return statistics.median(times) * 1e3, times[int(0.95 * (len(times) - 1))] * 1e3


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", default="16,200", help="comma list of node counts (8 GPUs each)")
    ap.add_argument("--gangs", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=60)
    a = ap.parse_args()
    print(f"{'nodes':>6} {'gangs':>6} {'filter median ms':>17} {'p95 ms':>8}")
    for nodes in (int(x) for x in a.nodes.split(",")):
        for gangs in (0, a.gangs):
            med, p95 = run(nodes, gangs, a.rounds)
            print(f"{nodes:>6} {gangs:>6} {med:>17.2f} {p95:>8.2f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
