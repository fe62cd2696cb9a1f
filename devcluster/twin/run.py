"""`tessera twin run`: one trace slice through each real scheduler and its simulated model."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from devcluster.twin.compare import Comparison, compare, range_note, seed_spread, simulate
from devcluster.twin.metrics import real_metrics
from devcluster.twin.period import session_period, session_timing
from devcluster.twin.real import Binaries, RealRun, run_real
from simulator.workloads.model import Workload

SCHEDULERS = ("tessera", "default", "volcano")
# The real run stops at this multiple of the longest simulated makespan (plus a margin): a job
# no scheduler can place must not hold the run forever.
DEADLINE_FACTOR = 1.5


@dataclass
class TwinResult:
    workload: str
    jobs: int
    speedup: float
    comparisons: list[Comparison]
    real: dict[str, dict[str, object]]
    sim: dict[str, dict[str, object]]
    placements: dict[str, dict[str, dict[str, object]]]  # scheduler -> pod -> node and times


def parse_schedulers(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise ValueError("--schedulers is empty; known: " + ", ".join(SCHEDULERS))
    for n in names:
        if n not in SCHEDULERS:
            raise ValueError(f"unknown scheduler {n!r}; known: {', '.join(SCHEDULERS)}")
    return names


def slice_jobs(w: Workload, jobs: int | None) -> Workload:
    """The first `jobs` submissions by arrival (DAG children of kept jobs kept with them;
    a child whose predecessor was cut is cut too)."""
    if jobs is None:
        return w
    if jobs < 1:
        raise ValueError(f"--jobs {jobs}: must be >= 1")
    roots = sorted((j for j in w.jobs if not j.after), key=lambda j: (j.arrival, j.uid))
    keep = {j.uid for j in roots[:jobs]}
    changed = True
    while changed:
        changed = False
        for j in w.jobs:
            if j.after and j.uid not in keep and all(p in keep for p in j.after):
                keep.add(j.uid)
                changed = True
    kept = tuple(j for j in w.jobs if j.uid in keep)
    return replace(w, jobs=kept, name=f"{w.name}[:{jobs}]")


SPREAD_SEEDS = 20  # the Volcano model's seeds the real run is also placed against (reported)


def twin_run(
    w: Workload,
    schedulers: Sequence[str],
    bins: Binaries,
    *,
    speedup: float,
    seed: int = 0,
    progress: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
    keep_logs_in: Path | None = None,
) -> TwinResult:
    if speedup <= 0:
        raise ValueError(f"--speedup {speedup}: must be > 0")
    env = dict(os.environ)
    repo = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (repo, env.get("PYTHONPATH")) if p)
    sims = {s: simulate(s, w, seed, speedup) for s in schedulers}
    longest = max(float(s.metrics["makespan_s"]) for s in sims.values())  # type: ignore[arg-type]
    last_arrival = max((j.arrival for j in w.jobs), default=0.0)
    deadline = max(longest, last_arrival) * DEADLINE_FACTOR + 30 * speedup
    comparisons: list[Comparison] = []
    real: dict[str, dict[str, object]] = {}
    placements: dict[str, dict[str, dict[str, object]]] = {}
    for s in schedulers:
        progress(f"twin {s}: simulated {sims[s].policy}: makespan {longest:,.0f}s; "
                 f"real run for at most {deadline / speedup:,.0f}s wall")  # fmt: skip
        work = keep_logs_in / s if keep_logs_in else None
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)  # a fresh cluster, not a previous run's etcd
        run: RealRun = run_real(
            w, s, bins, speedup=speedup, deadline_s=deadline, progress=progress,
            tessera_env=env, work_dir=work, keep_logs=work is not None,
        )  # fmt: skip
        m = real_metrics(w, run)
        if s == "volcano":  # the model with the session timing the real one had
            bound = [b / speedup for (_n, b, _e) in run.pods.values()]
            period = session_period(bound)
            timing = session_timing(bound)
            if timing is not None:
                progress(f"twin volcano: measured sessions {timing.period_s:.3f}s + run "
                         f"{timing.run_s:.3f}s + {timing.per_bind_s:.4f}s/bind (sd "
                         f"{timing.sd_s:.3f}s) wall; simulating again with them")  # fmt: skip
                sims[s] = simulate(s, w, seed, speedup, timing=timing)
                sims[s].metrics["session_run_wall_s"] = [round(timing.run_s, 4),
                                                         round(timing.per_bind_s, 4),
                                                         round(timing.sd_s, 4)]  # fmt: skip
            elif period is not None:
                progress(f"twin volcano: measured session period {period:.3f}s wall; "
                         "simulating again with it")  # fmt: skip
                sims[s] = simulate(s, w, seed, speedup, period)
            if period is not None:
                sims[s].metrics["session_period_wall_s"] = round(period, 3)
            if timing is not None:  # seed 0 is one draw of the timing noise: show the range
                sp = seed_spread(s, w, list(range(SPREAD_SEEDS)), speedup, timing=timing)
                note = range_note(sp, m)
                sims[s].metrics["seed_range_note"] = note
                progress(f"twin volcano: model over seeds 0-{SPREAD_SEEDS - 1}: {note}")
        gangs = {
            j.uid for j in w.jobs if j.min_member > 1 and _gang_started(run, j.uid, j.min_member)
        }
        comparisons.append(compare(s, m, sims[s], gangs, run.wall_s))
        real[s] = m
        placements[s] = {
            f"{uid}/{i}": {"node": node, "submit": round(run.submit[uid], 1),
                           "bound": round(b, 1), "succeeded": None if e is None else round(e, 1)}
            for (uid, i), (node, b, e) in run.pods.items()
        }  # fmt: skip
        progress(f"twin {s}: done in {run.wall_s:.0f}s wall")
    return TwinResult(w.name, len(w.jobs), speedup, comparisons, real,
                      {s: sims[s].metrics for s in schedulers}, placements)  # fmt: skip


def _gang_started(run: RealRun, uid: str, min_member: int) -> bool:
    return sum(1 for (u, _i) in run.pods if u == uid) >= min_member
