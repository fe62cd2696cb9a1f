"""Packing benchmarks: MIG fit over 40,000 GPUs; gang placement of 8 and 64 pods over 1,000 nodes.

Run: python3 benchmarks/bench_packing.py [--repeats N] [--seed S] [--quality-cases N]
Prints a quality line (CP-SAT vs greedy on small tight clusters) and one timing table.
Fleets are generated with a fixed seed: half the nodes have 8 H100-80GB GPUs in dynamic MIG
mode with random valid layouts already in use, half have 8 whole-GPU/shared H100s with random
free milli.  Timings are wall clock and process CPU time on this machine; compare rows by
ratio within one run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout, not an install

from packing.fleet import can_fit_multiset, can_place, masks_of  # noqa: E402
from packing.gang import plan_gang  # noqa: E402
from packing.gang.cost import CostModel  # noqa: E402
from packing.gang.greedy import greedy  # noqa: E402
from packing.gang.state import FleetState, evaluate_plan  # noqa: E402
from packing.gang.types import GangMember, GpuSlot, NodeSlot  # noqa: E402
from packing.mig import free_starts, valid_layouts  # noqa: E402

H = "H100-80GB"


def _timeit(fn: Callable[[], object], repeats: int) -> tuple[list[float], list[float]]:
    """(wall ms, process CPU ms) per repeat: the CI box is shared, CPU time is steadier."""
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - t0) * 1000.0)
        cpu.append((time.process_time() - c0) * 1000.0)
    return wall, cpu


def _pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.array(xs), q))


def fleet(rng: np.random.Generator, n_nodes: int = 1000) -> list[NodeSlot]:
    layouts = valid_layouts(H)
    nodes = []
    for i in range(n_nodes):
        if i % 2 == 0:
            gpus = []
            for j in range(8):
                lay = layouts[int(rng.integers(len(layouts)))]
                lay = lay[: int(rng.integers(0, len(lay) + 1))]  # partly used
                gpus.append(GpuSlot(j, H, True, tuple((x, True) for x in lay)))
        else:
            gpus = [GpuSlot(j, H, free_milli=int(rng.choice([0, 0, 250, 500, 750, 1000])))
                    for j in range(8)]
        nodes.append(NodeSlot(f"node-{i:04d}", tuple(gpus), int(rng.integers(8, 96)) * 1000,
                              int(rng.integers(64, 1024)) << 30))
    return nodes


def gang(k: int) -> list[GangMember]:
    kinds = [dict(mig_profile="3g.40gb", mig_count=1), dict(mig_profile="1g.20gb", mig_count=1),
             dict(milli=500), dict(whole=1)]
    return [GangMember(f"bench/p{i:03d}", cpu_milli=2000, memory_bytes=8 << 30,
                       **kinds[i % len(kinds)]) for i in range(k)]  # type: ignore[arg-type]


def tight_case(rng: np.random.Generator) -> tuple[list[GangMember], list[NodeSlot]]:
    """A small, nearly full cluster (4 nodes x 2 GPUs) and a gang of 4-6 mixed members."""
    layouts = valid_layouts(H)
    nodes = []
    for i in range(4):
        gpus = []
        for j in range(2):
            if rng.random() < 0.5:
                lay = layouts[int(rng.integers(len(layouts)))]
                lay = lay[: int(rng.integers(0, 3))]
                gpus.append(GpuSlot(j, H, True, tuple((x, True) for x in lay)))
            else:
                gpus.append(GpuSlot(j, H, free_milli=int(rng.choice([250, 500, 750, 1000]))))
        nodes.append(NodeSlot(f"n{i}", tuple(gpus), int(rng.choice([2, 4, 6])) * 1000, 1 << 40))
    kinds = [dict(mig_profile="3g.40gb", mig_count=1), dict(mig_profile="1g.20gb", mig_count=1),
             dict(mig_profile="2g.20gb", mig_count=1), dict(milli=500), dict(milli=250),
             dict(whole=1)]
    members = [GangMember(f"t/p{i}", cpu_milli=int(rng.choice([1000, 2000])),
                          **kinds[int(rng.integers(len(kinds)))])  # type: ignore[arg-type]
               for i in range(int(rng.integers(4, 7)))]
    return members, nodes


def quality(cases: int, seed: int) -> str:
    """CP-SAT (5 s limit) vs its own greedy start on tight clusters: how often it does better."""
    better = equal = rescued = both_fail = 0
    for c in range(cases):
        members, nodes = tight_case(np.random.default_rng(seed + c))
        cost = CostModel(members, "fragmentation")
        g = greedy(FleetState(nodes, cost), members)
        plan = plan_gang(members, nodes, time_limit_s=5.0)
        if g is None:
            rescued += plan.placements != {}
            both_fail += plan.placements == {}
            continue
        g_obj = evaluate_plan(members, nodes, g, cost)
        assert plan.objective is not None and plan.objective <= g_obj
        better += plan.objective < g_obj
        equal += plan.objective == g_obj
    return (f"{cases} tight cases: CP-SAT better than greedy {better}, equal {equal}, "
            f"placed where greedy failed {rescued}, neither placed {both_fail}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--time-limit", type=float, default=0.1, help="CP-SAT limit per gang, s")
    ap.add_argument("--quality-cases", type=int, default=200)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    rows: list[tuple[str, tuple[list[float], list[float]], str]] = []

    layouts = valid_layouts(H)
    pick = rng.integers(len(layouts), size=40_000)
    masks = masks_of(H, [layouts[int(i)] for i in pick])
    can_place(masks, H, "3g.40gb")  # build the lookup tables once
    can_fit_multiset(masks, H, {"2g.20gb": 1, "1g.10gb": 2})
    vec = _timeit(lambda: can_place(masks, H, "3g.40gb"), args.repeats)
    rows.append(("fit 3g.40gb, 40,000 GPUs (numpy)", vec, ""))
    rows.append(("fit {2g.20gb,1g.10gb x2}, 40,000 GPUs", _timeit(
        lambda: can_fit_multiset(masks, H, {"2g.20gb": 1, "1g.10gb": 2}), args.repeats), ""))
    sub = [layouts[int(i)] for i in pick[:4000]]
    scalar = _timeit(lambda: [free_starts(H, lay, "3g.40gb") for lay in sub], 3)
    ratio = statistics.median(scalar[0]) * 10 / statistics.median(vec[0])
    rows.append(("fit 3g.40gb, 4,000 GPUs (scalar loop)", scalar,
                 f"x10 = 40,000: {ratio:,.0f}x the numpy wall time"))

    for k in (8, 64):
        for objective in ("fragmentation", "fewest_nodes"):
            wall, cpu, statuses = [], [], []
            for r in range(args.repeats):
                nodes = fleet(np.random.default_rng(args.seed + 1000 * k + r))
                members = gang(k)
                t0, c0 = time.perf_counter(), time.process_time()
                plan = plan_gang(members, nodes, objective=objective,
                                 time_limit_s=args.time_limit, seed=0, workers=1)
                wall.append((time.perf_counter() - t0) * 1000.0)
                cpu.append((time.process_time() - c0) * 1000.0)
                statuses.append(plan.status)
            summary = ", ".join(f"{s} {statuses.count(s)}" for s in sorted(set(statuses)))
            rows.append((f"gang {k} pods, 1,000 nodes x 8 GPUs, {objective}", (wall, cpu),
                         summary))

    print(quality(args.quality_cases, args.seed))
    print(f"CP-SAT time limit {args.time_limit}s, 1 worker, seed 0; {args.repeats} repeats")
    print(f"{'benchmark':<52} {'n':>3} {'p50 ms':>8} {'p95 ms':>8} {'cpu p50':>8} "
          f"{'cpu p95':>8}  note")
    for name, (wall, cpu), note in rows:
        print(f"{name:<52} {len(wall):>3} {statistics.median(wall):>8.2f} {_pct(wall, 95):>8.2f} "
              f"{statistics.median(cpu):>8.2f} {_pct(cpu, 95):>8.2f}  {note}")


if __name__ == "__main__":
    main()
