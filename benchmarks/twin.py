"""Calibration: real schedulers on the real control plane vs the simulator's models.

    python3 benchmarks/twin.py [--workload synthetic200|tiresias|synthetic20 ...]
                               [--schedulers tessera,default,volcano] [--out FILE.json]

Workloads (documented recipes, no tuning on them):
  synthetic200  `synthetic:seed=0,jobs=200,nodes=16,mig_nodes=4`, speedup 300 (the slice spans
                about 69,500 trace s, so 5 wall minutes need >= 240; multimodal mix:
                inference, training gangs, DAG pipelines, MIG notebooks; 246 jobs with stages)
  tiresias      the bundled Tiresias 60-job trace on 2 x 8 H100, speedup 20
  synthetic20   `synthetic:seed=1,jobs=20,nodes=4,mig_nodes=1`, speedup 100 (the e2e test's)
Each scheduler runs on a fresh cluster (`tessera twin run`); prints one row per scheduler with
the real and simulated (seed 0) useful/held allocation, p50/p95 wait, gangs completed, the
verdict (against each model's range over `devcluster.twin.run.MODEL_SEEDS` seeds) and the wall
time of the real run.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devcluster import binaries  # noqa: E402
from devcluster.twin.compare import PLAIN_KUBE, SIM_POLICY, Spread  # noqa: E402
from devcluster.twin.period import SessionTiming, session_timing  # noqa: E402
from devcluster.twin.real import Binaries  # noqa: E402
from devcluster.twin.run import parse_model_seeds, parse_schedulers, twin_run  # noqa: E402
from devcluster.twin.verdict import judge, table  # noqa: E402
from simulator.workloads.model import Workload  # noqa: E402
from simulator.workloads.traces import load, tiresias  # noqa: E402

WORKLOADS = {
    "synthetic200": ("synthetic:seed=0,jobs=200,nodes=16,mig_nodes=4", 300.0),
    "tiresias": ("tiresias", 20.0),
    "synthetic20": ("synthetic:seed=1,jobs=20,nodes=4,mig_nodes=1", 100.0),
}


def workload(name: str) -> tuple[Workload, float]:
    spec, speedup = WORKLOADS[name]
    if spec == "tiresias":
        csv = resources.files("simulator.workloads").joinpath("tiresias_60_job.csv")
        with resources.as_file(csv) as path:
            return tiresias(path), speedup
    return load(spec), speedup


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workload", action="append", choices=list(WORKLOADS))
    ap.add_argument("--schedulers", default="tessera,default,volcano")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--logs", type=Path, default=None, help="keep every component's logs here "
                    "(and each workload's twin.json and placements.json)")
    ap.add_argument("--fill", default=None, help="static fill instead: comma list of "
                    "whole,mig (real default/volcano vs kube-default/volcano model)")
    ap.add_argument("--fill-pods", type=int, default=500)
    ap.add_argument("--fill-nodes", type=int, default=80)
    ap.add_argument("--fill-save", type=Path, default=None,
                    help="keep each real fill's placements as DIR/fill-<scheduler>-<shape>.json")
    ap.add_argument("--fill-from", type=Path, action="append", default=None,
                    help="score the model against a saved real fill (no cluster is started)")
    ap.add_argument("--model-seeds", default=None, metavar="N", help="no cluster: each model's "
                    "metrics over seeds 0..N-1 (its random tie-breaks), min/median/max, and "
                    "each --real run's verdict against them")
    ap.add_argument("--volcano-period", type=float, default=1.0,
                    help="with --model-seeds: Volcano's session period, wall seconds")
    ap.add_argument("--volcano-periods", default=None,
                    help="with --model-seeds: a comma list of periods instead (wall seconds, "
                    "e.g. the real runs' measured ones); Volcano's range pools every seed at "
                    "every period")
    ap.add_argument("--volcano-timing-from", type=Path, default=None,
                    help="with --model-seeds: Volcano's session chain (1 s period plus each "
                    "session's run, fitted to the run's binds) from a real run's placements.json "
                    "(from --logs), instead of a fixed period")
    ap.add_argument("--real", type=Path, action="append", default=None,
                    help="with --model-seeds: a real run's twin.json (from --logs), placed "
                    "against the seeds' range")
    ap.add_argument("--jitter", type=float, default=0.0, help="with --model-seeds: each seed "
                    "also delays every arrival by up to this many trace seconds")
    ap.add_argument("--hold-before", action="store_true", help="with --model-seeds: the "
                    "Tessera model before failed gang plans ended at a departure")
    ap.add_argument("--keep-before", action="store_true", help="with --model-seeds: the "
                    "Tessera model before its keeper's nodes followed the drain at the first "
                    "filter after a departure (they moved only at its 2 s pass; round 8)")
    ap.add_argument("--no-bind-latency", action="store_true", help="with --model-seeds: "
                    "kube-scheduler's models (tessera, default) bind each pod at the instant "
                    "of their decision, without the measured creation-to-bind latency "
                    "(before round 8b)")
    ap.add_argument("--kube-queue-order", action="store_true", help="with --model-seeds: "
                    "`default` modelled behind kube-scheduler's queue order "
                    "(kube-default-queued, twin only): the default since round 8, kept so "
                    "earlier rounds' commands run")
    ap.add_argument("--kube-plain", action="store_true", help="with --model-seeds: `default` "
                    "modelled by the plain kube-default (every pod retried at once; the "
                    "twin's model before round 8)")
    args = ap.parse_args()
    names = parse_schedulers(args.schedulers)
    if args.model_seeds is not None:
        return spread(args, names)
    if args.fill_from:
        return fill(args, names, None)
    k8s = binaries.build()
    volcano, kwok = binaries.build_twin()
    bins = Binaries(k8s, kwok / "kwok", volcano)
    if args.fill:
        return fill(args, names, bins)
    rows = []
    header = (f"{'workload':<13} {'scheduler':<9} {'useful r/s':>13} {'held r/s':>13} "
              f"{'p50 wait r/s':>15} {'p95 wait r/s':>17} {'gangs r/s':>9} {'verdict':<8} "
              f"{'wall s':>6}")  # fmt: skip
    out_lines = [header, "-" * len(header)]
    for wname in args.workload or ["synthetic200", "tiresias"]:
        w, speedup = workload(wname)
        logs = args.logs / wname if args.logs else None
        res = twin_run(w, names, bins, speedup=speedup, keep_logs_in=logs)
        print(table(res.comparisons), file=sys.stderr)
        if logs is not None:  # what each real run observed, to re-score models without a cluster
            (logs / "placements.json").write_text(json.dumps(res.placements, indent=1) + "\n")
            (logs / "twin.json").write_text(json.dumps(
                {"workload": res.workload, "speedup": speedup, "model_seeds": res.model_seeds,
                 "comparisons": [c.to_json() for c in res.comparisons], "real": res.real,
                 "simulated": res.sim}, indent=1) + "\n")  # fmt: skip
        for c in res.comparisons:
            m = {r.metric: r for r in c.rows}

            def pair(k: str, m=m) -> str:
                return f"{m[k].real:.1f}/{m[k].sim:.1f}"

            out_lines.append(
                f"{wname:<13} {c.scheduler:<9} {pair('allocated_pct_mean'):>13} "
                f"{pair('held_pct_mean'):>13} {pair('queue_delay_s.p50'):>15} "
                f"{pair('queue_delay_s.p95'):>17} "
                f"{len(c.gangs_real):>4}/{len(c.gangs_sim):<4} {'ok' if c.ok else 'OUT':<8} "
                f"{c.wall_s:>6.0f}"
            )
            rows.append({"workload": wname, "speedup": speedup, **c.to_json()})
    print("\n".join(out_lines))
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


def spread(args: argparse.Namespace, names: list[str]) -> int:
    """Each model over seeds 0..N-1, and where each given real run lies in that range."""
    from statistics import median

    from devcluster.twin.compare import SPREAD_METRICS, ModelOptions, seed_spread

    try:
        n_seeds = parse_model_seeds(args.model_seeds)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    reals = []
    for path in args.real or []:
        try:
            reals.append((path, json.loads(path.read_text())))
        except (OSError, ValueError) as exc:
            print(f"--real {path}: {exc}", file=sys.stderr)
            return 2
    seeds = list(range(n_seeds))
    periods = [args.volcano_period]
    if args.volcano_periods:
        try:
            periods = [float(x) for x in args.volcano_periods.split(",")]
        except ValueError:
            periods = []
        if not periods or any(not p > 0 for p in periods):
            print(f"--volcano-periods {args.volcano_periods!r}: want a comma list of positive "
                  "seconds", file=sys.stderr)
            return 2
    timing = None
    if args.volcano_timing_from:
        timing = timing_from(args.volcano_timing_from)
        if timing is None:
            return 2
        idle = "" if timing.idle_run_s is None else f", idle {timing.idle_run_s:.4f} s"
        print(f"volcano sessions: {timing.period_s:.3f} s + run {timing.run_s:.4f} s + "
              f"{timing.per_bind_s:.4f} s/bind, sd {timing.sd_s:.4f} s{idle} (wall)")  # fmt: skip
    print(f"{'workload':<13} {'scheduler':<9} {'metric':<20} {'min':>9} {'median':>9} "
          f"{'max':>9}  real (in range? / within range +- tolerance?)")  # fmt: skip
    for wname in args.workload or ["synthetic200", "tiresias"]:
        w, speedup = workload(wname)
        for s in names:
            opts = ModelOptions(hold_until_departure=not args.hold_before,
                                jitter_s=args.jitter, kube_queue_order=not args.kube_plain,
                                timing=timing if s == "volcano" else None,
                                keep_follows_drain=not args.keep_before,
                                bind_latency=not args.no_bind_latency)  # fmt: skip
            parts = [seed_spread(s, w, seeds, speedup, replace(opts, period_s=period))
                     for period in (periods if s == "volcano" else periods[:1])]  # fmt: skip
            sp = pooled(parts)
            for k in SPREAD_METRICS:
                v = sp.values[k]
                notes = []
                for path, doc in reals:
                    r = (doc.get("real") or {}).get(s)
                    if not isinstance(r, dict) or doc.get("speedup") != speedup:
                        continue
                    x: Any = r
                    for part in k.split("."):
                        x = x[part]
                    got = float(x)
                    notes.append(f"{path.parent.name}: {got:,.1f} "
                                 f"({'in' if sp.strictly_within(k, got) else 'out'}/"
                                 f"{'in' if sp.within(k, got) else 'OUT'})")  # fmt: skip
                print(f"{wname:<13} {s:<9} {k:<20} {min(v):>9,.1f} {median(v):>9,.1f} "
                      f"{max(v):>9,.1f}  {'; '.join(notes)}", flush=True)  # fmt: skip
            print(f"{wname:<13} {s:<9} {'gangs completed':<20} {min(sp.gangs):>9} "
                  f"{median(sp.gangs):>9} {max(sp.gangs):>9}", flush=True)  # fmt: skip
            print(f"{wname:<13} {s:<9} model on {len(sp.seeds)} seeds: {sp.wall_s:.2f} s wall "
                  f"({sp.wall_s / len(sp.seeds):.3f} s a seed)", flush=True)  # fmt: skip
            for path, doc in reals:
                if isinstance((doc.get("real") or {}).get(s), dict) and \
                        doc.get("speedup") == speedup:  # fmt: skip
                    policy = (PLAIN_KUBE if s == "default" and args.kube_plain
                              else SIM_POLICY[s])  # fmt: skip
                    print(rejudged(path, doc, s, policy, w, sp), flush=True)
    return 0


def rejudged(path: Path, doc: dict[str, Any], s: str, policy: str, w: Workload,
             sp: Spread) -> str:  # fmt: skip
    """A saved real run's verdict against `sp` (`devcluster.twin.verdict`), its completed
    gangs read from the `placements.json` beside its twin.json."""
    try:
        pods = json.loads((path.parent / "placements.json").read_text())[s]
    except (OSError, ValueError, KeyError) as exc:
        return f"{path}: no verdict ({exc!r}: the real run's gangs are unknown)"
    bound: dict[str, int] = {}
    for key, p in pods.items():
        if p.get("bound") is not None:
            uid = key.rsplit("/", 1)[0]
            bound[uid] = bound.get(uid, 0) + 1
    gangs = {j.uid for j in w.jobs if j.min_member > 1 and bound.get(j.uid, 0) >= j.min_member}
    c = judge(s, policy, doc["real"][s], sp, gangs)
    return f"{path}:\n{table([c])}"


def timing_from(path: Path) -> SessionTiming | None:
    """The session timing fitted to a real run's binds (`placements.json`, `devcluster.twin.
    period.session_timing`); None, with one line on stderr, when it cannot be read or fitted."""
    try:
        doc = json.loads(path.read_text())
        speedup = float(json.loads((path.parent / "twin.json").read_text())["speedup"])
        bound = [float(p["bound"]) / speedup for p in doc["volcano"].values()
                 if p.get("bound") is not None]  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        print(f"--volcano-timing-from {path}: {exc!r}", file=sys.stderr)
        return None
    timing = session_timing(bound)
    if timing is None:
        print(f"--volcano-timing-from {path}: too few adjacent binding sessions to fit",
              file=sys.stderr)  # fmt: skip
    return timing


def pooled(parts: list[Spread]) -> Spread:
    """One range over several spreads of the same model (e.g. one per session period)."""
    first = parts[0]
    return Spread(first.scheduler, [x for p in parts for x in p.seeds],
                  {k: [x for p in parts for x in p.values[k]] for k in first.values},
                  [x for p in parts for x in p.gangs], [x for p in parts for x in p.gang_sets],
                  first.first, sum(p.wall_s for p in parts))  # fmt: skip


def fill(args: argparse.Namespace, names: list[str], bins: Binaries | None) -> int:
    from devcluster.twin.fill import RealFill, agreement, run_real_fill

    print(f"{'scheduler':<9} {'shape':<6} {'model':<7} {'pods':>5} {'bound':>5} {'agree %':>8} "
          f"{'exact %':>8} {'tied %':>7} {'wall s':>7}")  # fmt: skip
    if args.fill_from:
        runs = [RealFill.load(p) for p in args.fill_from]
    else:
        assert bins is not None
        runs = []
        for shape in args.fill.split(","):
            for s in (n for n in names if n != "tessera"):
                real = run_real_fill(s, shape, bins, pods=args.fill_pods, nodes=args.fill_nodes)
                if args.fill_save:
                    args.fill_save.mkdir(parents=True, exist_ok=True)
                    real.save(args.fill_save / f"fill-{s}-{shape}.json")
                runs.append(real)
    for real in runs:
        for variant in ("before", "model"):
            r = agreement(real, variant)
            print(f"{r.scheduler:<9} {r.shape:<6} {variant:<7} {r.pods:>5} {r.bound:>5} "
                  f"{r.agreement_pct:>8.1f} {r.exact:>8.1f} {r.tied:>7.1f} {r.wall_s:>7.0f}",
                  flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
