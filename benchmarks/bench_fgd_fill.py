"""FGD reproduction and fill-run speed: ours vs the paper's published runs, one table.

For each policy, runs ``tessera simulate fgd-fill``'s experiment for every seed and prints the
median unallocated GPU % at 100 % arrived load beside the paper's median over the same seeds
(``fgd-expected-results/analysis_allo_discrete.csv``), plus seconds per run on this machine.

    python3 benchmarks/bench_fgd_fill.py [--seeds 42-51] [--policies random,bestfit,fgd]

``--variants all`` (or a list such as ``gpuspec33,multigpu50``) sweeps the trace family
generated from the default list (``simulator/fgd_fill/variants.py``, ``--gen-seed``) and prints,
per variant, our median beside the paper's for every policy, and tessera's distance to FGD.
The runs go to a process pool (``--workers``, default: every core).
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulator.fgd_fill.run import run_fgd_fill  # noqa: E402
from simulator.fgd_fill.variants import PUBLISHED, make_variant  # noqa: E402
from simulator.policies.fill.registry import FILL_POLICIES  # noqa: E402
from simulator.traces import load_openb_nodes, load_openb_pods  # noqa: E402

PAPER_NAMES = {
    "random": "01-Random",
    "dotprod": "02-DotProd",
    "clustering": "03-GpuClustering",
    "packing": "04-GpuPacking",
    "bestfit": "05-BestFit",
    "fgd": "06-FGD",
}
TOLERANCE_PP = 0.5


def paper_medians(
    csv_path: Path,
    seeds: set[int],
    point: int = 100,
    complement: bool = True,
    workload: str = "openb_pod_list_default",
) -> dict[str, float]:
    """Median over seeds of 100 - value (allocation -> unallocated) or of the value itself,
    for one trace of the family (the CSVs hold all 17 published traces)."""
    by_policy: dict[str, list[float]] = {}
    with open(csv_path, newline="") as f:
        for row in csv.DictReader(f):
            if row["workload"] == workload and int(row["seed"]) in seeds:
                v = float(row[str(point)])
                by_policy.setdefault(row["sc_policy"], []).append(100.0 - v if complement else v)
    return {k: statistics.median(v) for k, v in by_policy.items()}


def seed_range(text: str) -> list[int]:
    lo, _, hi = text.partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


def main() -> None:
    default = Path(__file__).resolve().parents[2] / "shared" / "traces" / "alibaba-gpu-v2023"
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--traces", type=Path, default=default)
    ap.add_argument("--pods", default="openb_pod_list_default.csv")
    ap.add_argument("--seeds", type=seed_range, default=seed_range("42-51"))
    ap.add_argument("--policies", default=",".join(p for p in FILL_POLICIES if "tessera" not in p))
    ap.add_argument("--points", default="90,95,110,130", help="extra arrived-%% points to compare")
    ap.add_argument("--variants", default="", help="'all' or a comma list, e.g. gpuspec33")
    ap.add_argument("--gen-seed", type=int, default=0, help="seed of the variant generator")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    if args.variants:
        variants = list(PUBLISHED) if args.variants == "all" else args.variants.split(",")
        sweep(args, variants)
        return
    points = [int(x) for x in args.points.split(",") if x]

    nodes = load_openb_nodes(args.traces / "openb_node_list_gpu_node.csv").rows
    pods = load_openb_pods(args.traces / args.pods).rows
    expected = args.traces / "fgd-expected-results" / "analysis_allo_discrete.csv"
    workload = Path(args.pods).stem
    paper = paper_medians(expected, set(args.seeds), workload=workload)
    frag_csv = args.traces / "fgd-expected-results" / "analysis_frag_discrete.csv"
    paper_frag = paper_medians(frag_csv, set(args.seeds), complement=False, workload=workload)
    curves: dict[str, list[dict[int, float]]] = {}
    print(f"seeds {args.seeds[0]}-{args.seeds[-1]}, trace {args.pods}")
    print(
        "policy      ours_median  paper_median  delta_pp  within_0.5  "
        "frag@100_ours/paper  wall_s  cpu_s  per_seed"
    )
    for policy in args.policies.split(","):
        values, secs, cpu, frags = [], [], [], []
        for seed in args.seeds:
            t0, c0 = time.perf_counter(), time.process_time()
            r = run_fgd_fill(nodes, pods, policy, seed)
            secs.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            curves.setdefault(policy, []).append(dict(r.curve))
            if 100 in dict(r.frag_curve):
                frags.append(dict(r.frag_curve)[100])
            if r.unallocated_gpu_pct_at_100 is not None:
                values.append(r.unallocated_gpu_pct_at_100)
        ours = statistics.median(values)
        ref = paper.get(PAPER_NAMES.get(policy, ""))
        delta = "-" if ref is None else f"{ours - ref:+.2f}"
        ok = "-" if ref is None else ("yes" if abs(ours - ref) <= TOLERANCE_PP else "NO")
        ref_s = "-" if ref is None else f"{ref:.2f}"
        per_seed = " ".join(f"{v:.2f}" for v in values)
        ref_f = paper_frag.get(PAPER_NAMES.get(policy, ""))
        frag = f"{statistics.median(frags):.2f}/{'-' if ref_f is None else f'{ref_f:.2f}'}"
        print(
            f"{policy:<11} {ours:>11.2f}  {ref_s:>12}  {delta:>8}  {ok:>10}  {frag:>19}  "
            f"{statistics.median(secs):>6.1f}  {statistics.median(cpu):>5.1f}  {per_seed}",
            flush=True,
        )
    if points:
        print("unallocated GPU % at other arrived points, median over seeds: ours / paper")
        print("policy      " + "  ".join(f"{x:>13}%" for x in points))
        for policy, runs in curves.items():
            cells = []
            for x in points:
                ours_x = statistics.median(100.0 - c[x] for c in runs if x in c)
                at_x = paper_medians(expected, set(args.seeds), x, workload=workload)
                ref_x = at_x.get(PAPER_NAMES.get(policy, ""))
                cells.append(f"{ours_x:6.2f} / {'-' if ref_x is None else f'{ref_x:.2f}':>5}")
            print(f"{policy:<11} " + "  ".join(cells))


@lru_cache(maxsize=4)
def _variant(traces: Path, name: str, gen_seed: int) -> tuple[list, list]:
    nodes = load_openb_nodes(traces / "openb_node_list_gpu_node.csv").rows
    pods = load_openb_pods(traces / "openb_pod_list_default.csv").rows
    return nodes, make_variant(pods, name, gen_seed)


def _one_run(job: tuple[Path, str, int, str, int]) -> tuple[str, str, float | None, float]:
    traces, name, gen_seed, policy, seed = job
    nodes, pods = _variant(traces, name, gen_seed)
    c0 = time.process_time()
    r = run_fgd_fill(nodes, pods, policy, seed)
    return name, policy, r.unallocated_gpu_pct_at_100, time.process_time() - c0


def sweep(args: argparse.Namespace, variants: list[str]) -> None:
    """Every (variant, policy, seed) run in a process pool; one table row per variant x policy."""
    policies = args.policies.split(",")
    expected = args.traces / "fgd-expected-results" / "analysis_allo_discrete.csv"
    # Variant-major order: a worker keeps reusing its cached list for one variant.
    jobs = [(args.traces, v, args.gen_seed, p, s) for v in variants for p in policies
            for s in args.seeds]  # fmt: skip
    runs: dict[tuple[str, str], list[float]] = {}
    cpu: dict[str, list[float]] = {}
    with ProcessPoolExecutor(max_workers=max(1, args.workers)) as pool:
        for name, policy, value, secs in pool.map(_one_run, jobs, chunksize=1):
            if value is not None:
                runs.setdefault((name, policy), []).append(value)
            cpu.setdefault(policy, []).append(secs)
    print(f"seeds {args.seeds[0]}-{args.seeds[-1]}, generated variants (gen seed {args.gen_seed})")
    print("unallocated GPU % at 100 % arrived, median over seeds: ours / paper (delta pp)")
    print("variant      " + "  ".join(f"{p:>22}" for p in policies))
    for v in variants:
        paper = paper_medians(expected, set(args.seeds), workload=f"openb_pod_list_{v}")
        cells = []
        for p in policies:
            vals = runs.get((v, p), [])
            ours = statistics.median(vals) if vals else float("nan")
            ref = paper.get(PAPER_NAMES.get(p, ""))
            if ref is not None:
                cells.append(f"{ours:6.2f} / {ref:5.2f} ({ours - ref:+5.2f})")
            elif p.startswith("tessera") and (v, "fgd") in runs:
                fgd = statistics.median(runs[(v, "fgd")])
                cells.append(f"{ours:6.2f} vs fgd {ours - fgd:+5.2f}")
            else:
                cells.append(f"{ours:6.2f}{'':16}")
        print(f"{v:<12} " + "  ".join(f"{c:>22}" for c in cells), flush=True)
    print("CPU s per run, median: " + ", ".join(
        f"{p} {statistics.median(c):.1f}" for p, c in cpu.items()))  # fmt: skip


if __name__ == "__main__":
    main()
