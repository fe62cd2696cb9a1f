"""Packing benchmarks: MIG fit over 40,000 GPUs; gang placement of 8 and 64 pods over 1,000 nodes.

Run: python3 benchmarks/bench_packing.py [--repeats N] [--seed S]
Prints one table.  Fleets are generated with a fixed seed: half the nodes have 8 H100-80GB GPUs
in dynamic MIG mode with random valid layouts already in use, half have 8 whole-GPU/shared
H100s with random free milli.  Timings are wall clock (time.perf_counter) on this machine;
compare rows by ratio within one run.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

from packing.fleet import can_fit_multiset, can_place, masks_of
from packing.gang import plan_gang
from packing.gang_types import GangMember, GpuSlot, NodeSlot
from packing.mig import free_starts, valid_layouts

H = "H100-80GB"


def _timeit(fn: Callable[[], object], repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000.0)
    return out


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    rows: list[tuple[str, list[float], str]] = []

    layouts = valid_layouts(H)
    pick = rng.integers(len(layouts), size=40_000)
    masks = masks_of(H, [layouts[int(i)] for i in pick])
    can_place(masks, H, "3g.40gb")  # build the lookup table once
    rows.append(("fit 3g.40gb, 40,000 GPUs (numpy)", _timeit(
        lambda: can_place(masks, H, "3g.40gb"), args.repeats), ""))
    rows.append(("fit {2g.20gb,1g.10gb x2}, 40,000 GPUs", _timeit(
        lambda: can_fit_multiset(masks, H, {"2g.20gb": 1, "1g.10gb": 2}), args.repeats), ""))
    sub = [layouts[int(i)] for i in pick[:4000]]
    scalar = _timeit(lambda: [free_starts(H, lay, "3g.40gb") for lay in sub], 3)
    rows.append(("fit 3g.40gb, 4,000 GPUs (scalar loop)", scalar, "x10 for 40,000"))

    for k in (8, 64):
        for objective in ("fragmentation", "fewest_nodes"):
            times, statuses = [], []
            for r in range(args.repeats):
                nodes = fleet(np.random.default_rng(args.seed + 1000 * k + r))
                members = gang(k)
                t0 = time.perf_counter()
                plan = plan_gang(members, nodes, objective=objective,  # type: ignore[arg-type]
                                 time_limit_s=1.0, seed=0, workers=1)
                times.append((time.perf_counter() - t0) * 1000.0)
                statuses.append(plan.status)
            summary = ", ".join(f"{s} {statuses.count(s)}" for s in sorted(set(statuses)))
            rows.append((f"gang {k} pods, 1,000 nodes x 8 GPUs, {objective}", times, summary))

    print(f"{'benchmark':<52} {'n':>3} {'p50 ms':>9} {'p95 ms':>9}  note")
    for name, xs, note in rows:
        print(f"{name:<52} {len(xs):>3} {statistics.median(xs):>9.2f} {_pct(xs, 95):>9.2f}  {note}")


if __name__ == "__main__":
    main()
