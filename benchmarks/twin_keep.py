"""The Tessera twin model with and without the extender's periodic keep pass, per gang shape.

    python3 benchmarks/twin_keep.py [--workload synthetic200] [--seeds 20]
                                    [--real DIR/placements.json ...]

Runs `tessera-static-kube` (the twin's model of the live extender behind kube-scheduler) over
seeds 0..N-1 twice: `before`, the keep given only at a member's filter (`KubeHost.keep_pass_s`
0, the product before the pass), and `after`, with `GangCoordinator.recover`'s pass (the
default). Prints, per rule, min-median-max over the seeds of useful allocation, p95 job wait
and mean gang wait (as `benchmarks/twin.py --model-seeds` computes them), then the mean wait
of each gang shape (members x GPUs), and each 4 x 8-GPU gang's wait; a real run's
`placements.json` (from `twin.py --logs`) is given the same per-shape rows (a gang's wait:
its last member's bind less its first member's creation).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from statistics import mean, median

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.twin import WORKLOADS, workload  # noqa: E402
from devcluster.twin.compare import drive, sim_policy  # noqa: E402
from simulator.policies.replay.tessera_kube import TesseraKubePolicy  # noqa: E402
from simulator.workloads.model import JobSpec, Workload  # noqa: E402

RULES = ("before", "after")


def shape(job: JobSpec) -> str:
    gpu = job.task.gpu
    return f"{job.min_member}x{gpu.count if gpu is not None and gpu.kind == 'whole' else 0}"


def run(w: Workload, seed: int, speedup: float, rule: str) -> tuple[dict, dict[str, float]]:
    """One model run: its summary metrics and each started gang's wait (trace s)."""
    policy = sim_policy("tessera", w, seed, speedup)
    assert isinstance(policy, TesseraKubePolicy)
    if rule == "before":
        policy.host.keep_pass_s = 0.0
    rec = drive(policy, w, seed)
    gangs = {j.uid: j.min_member for j in w.jobs if j.min_member > 1}
    waits = {j.uid: rec.job_start[j.uid] - j.arrival for j in w.jobs
             if j.min_member > 1 and j.uid in rec.job_start}  # fmt: skip
    return rec.summary(gangs), waits


def real_waits(path: Path, scheduler: str = "tessera") -> dict[str, float]:
    """Each gang's wait in a real run: its last member's bind less its first creation."""
    pods = json.loads(path.read_text())[scheduler]
    by_job: dict[str, list[dict]] = {}
    for key, p in pods.items():
        by_job.setdefault(key.rsplit("/", 1)[0], []).append(p)
    out = {}
    for job, ps in by_job.items():
        if len(ps) > 1 and all(p.get("bound") is not None for p in ps):
            out[job] = max(p["bound"] for p in ps) - min(p["submit"] for p in ps)
    return out


def spread(vals: list[float]) -> str:
    return f"{min(vals):>9,.1f} {median(vals):>9,.1f} {max(vals):>9,.1f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workload", default="synthetic200", choices=list(WORKLOADS))
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--real", type=Path, action="append", default=[])
    args = ap.parse_args()
    if args.seeds < 1:
        print("--seeds must be >= 1", file=sys.stderr)
        return 2
    w, speedup = workload(args.workload)
    shapes = {j.uid: shape(j) for j in w.jobs if j.min_member > 1}
    big = sorted(u for u, s in shapes.items() if s == "4x8")
    reals = {}
    for path in args.real:
        try:
            reals[path.parent.parent.name or str(path)] = real_waits(path)
        except (OSError, ValueError, KeyError) as exc:
            print(f"--real {path}: {exc}", file=sys.stderr)
            return 2
    print(f"{'rule':<7} {'metric':<22} {'min':>9} {'median':>9} {'max':>9}")
    for rule in RULES:
        metrics: dict[str, list[float]] = {}
        per_job: dict[str, list[float]] = {}
        for seed in range(args.seeds):
            summary, waits = run(w, seed, speedup, rule)
            for k in ("allocated_pct_mean", "queue_delay_s.p95", "gang_wait_s.mean"):
                x: object = summary
                for part in k.split("."):
                    x = x[part]  # type: ignore[index]
                metrics.setdefault(k, []).append(float(x))  # type: ignore[arg-type]
            for s in sorted(set(shapes.values())):
                got = [waits[u] for u, sh in shapes.items() if sh == s and u in waits]
                metrics.setdefault(f"wait {s} mean", []).append(mean(got) if got else 0.0)
            for u in big:
                per_job.setdefault(u, []).append(waits.get(u, float("nan")))
        for k, v in metrics.items():
            print(f"{rule:<7} {k:<22} {spread(v)}", flush=True)
        for u in big:
            print(f"{rule:<7} {'wait ' + u + ' (4x8)':<22} {spread(per_job[u])}", flush=True)
    for name, waits in reals.items():
        for s in sorted(set(shapes.values())):
            got = [waits[u] for u, sh in shapes.items() if sh == s and u in waits]
            print(f"{'real':<7} {'wait ' + s + ' mean':<22} {mean(got) if got else 0.0:>9,.1f}"
                  f"  {name}")  # fmt: skip
        for u in big:
            print(f"{'real':<7} {'wait ' + u + ' (4x8)':<22} {waits.get(u, float('nan')):>9,.1f}"
                  f"  {name}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
