"""Replay speed: events per second of each replay policy on one synthetic multimodal trace.

Runs `simulator.replay.driver.replay` for each policy on the same workload, in one process,
and prints events, seconds, events/s, the projected time for 100,000 events (goal: <= 10 s for
tessera, issue 12), the same in CPU seconds of this process (steadier than wall time on a
shared machine) and each policy's speed relative to kube-default measured in the same run.

    python3 benchmarks/bench_replay.py [--jobs 3000] [--nodes 32] [--interarrival 200]
        [--policies tessera,tessera-static,volcano,kube-default] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulator.policies.replay.registry import REPLAY_POLICIES, parse_policies  # noqa: E402
from simulator.replay.driver import replay  # noqa: E402
from simulator.workloads.synthetic import generate  # noqa: E402

GOAL_EVENTS = 100_000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=3000)
    ap.add_argument("--nodes", type=int, default=32)
    ap.add_argument("--interarrival", type=float, default=200.0)
    ap.add_argument("--policies", default="kube-default,tessera,tessera-static,volcano")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    names = parse_policies(args.policies)
    w = generate(args.seed, args.jobs, nodes=args.nodes, mig_nodes=args.nodes // 4,
                 mean_interarrival_s=args.interarrival)
    print(f"workload: {w.source}, {len(w.jobs)} jobs, {args.nodes} nodes x 8 H100")
    rows = []
    for name in names:
        policy = REPLAY_POLICIES[name](w, args.seed)
        t0, c0 = time.perf_counter(), time.process_time()
        r = replay(w, policy, seed=args.seed)
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        rows.append((name, r.events, dt, r.events / dt, cpu))
    base = next((eps for n, _, _, eps, _ in rows if n == "kube-default"), rows[0][3])
    print(f"{'policy':<16}{'events':>8}{'seconds':>9}{'events/s':>10}"
          f"{'100k ev s':>11}{'100k ev CPU s':>15}{'speed vs kube-default':>23}")
    for name, events, dt, eps, cpu in rows:
        print(f"{name:<16}{events:>8}{dt:>9.2f}{eps:>10.0f}{GOAL_EVENTS / eps:>11.1f}"
              f"{GOAL_EVENTS * cpu / events:>15.1f}{eps / base:>23.2f}")


if __name__ == "__main__":
    main()
