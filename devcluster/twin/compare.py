"""Real vs simulated, per scheduler: the metrics side by side, the difference, the verdict.

Each real scheduler is paired with the simulator policy that models it: `tessera` with
`tessera-static-kube` (static MIG: no agent repartitions the twin's nodes), `default` with
`kube-default`, `volcano` with `volcano`. The Volcano model runs with the
session period the real scheduler had, in trace time: measured from the real run's bind batches
(`devcluster.twin.period`; 1 s of wall time when too few were seen) x speedup. The Tessera
model (`simulator.policies.replay.tessera_kube`) is the extender behind a real kube-scheduler,
its wall-clock constants x speedup.

Tolerances (issue 13): allocation within 2 percentage points; p50/p95 wait within 15 % of the
simulated value or 30 trace seconds, whichever is larger; the same gangs completed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace

import numpy as np

from simulator.engine import Engine
from simulator.policies.replay.kube_default import KubeDefaultPolicy
from simulator.policies.replay.kube_default_queued import KubeDefaultQueuedPolicy
from simulator.policies.replay.kube_host import KubeHost
from simulator.policies.replay.tessera_kube import TesseraKubePolicy
from simulator.policies.replay.volcano.config import VolcanoConfig
from simulator.policies.replay.volcano.policy import VolcanoPolicy
from simulator.replay.driver import _Run
from simulator.replay.metrics import Recorder
from simulator.replay.protocol import ReplayPolicy, Start
from simulator.workloads.model import Workload

SIM_POLICY = {"tessera": "tessera-static-kube", "default": "kube-default", "volcano": "volcano"}
ALLOC_TOL_PP = 2.0
WAIT_TOL_REL, WAIT_TOL_ABS_S = 0.15, 30.0


@dataclass
class SimRun:
    policy: str
    metrics: dict[str, object]
    gangs_done: set[str]


def sim_policy(scheduler: str, w: Workload, seed: int, speedup: float, period_s: float = 1.0,
               hold_until_departure: bool = True,
               kube_queue_order: bool = False,
               keep_follows_drain: bool = True) -> ReplayPolicy:  # fmt: skip
    """The model of `scheduler`; `period_s`: Volcano's session period in wall seconds (the
    real one, `devcluster.twin.period`, when measured); `hold_until_departure` False: the
    Tessera whose failed gang plans stood 5 s whatever left (before the store dropped them);
    `kube_queue_order`: `default` as `kube-default-queued` (kube-scheduler's queue order);
    `keep_follows_drain` False: the Tessera whose keeper's nodes moved only at its 2 s pass
    and its own filter (before round 8)."""
    if scheduler == "tessera":
        host = KubeHost.scaled(speedup, seed, hold_until_departure=hold_until_departure,
                               keep_follows_drain=keep_follows_drain)  # fmt: skip
        return TesseraKubePolicy(w.nodes, host)
    if scheduler == "default":
        if kube_queue_order:
            return KubeDefaultQueuedPolicy(w.nodes, random.Random(seed),
                                           KubeHost.scaled(speedup, seed))  # fmt: skip
        return KubeDefaultPolicy(w.nodes, random.Random(seed))
    if scheduler == "volcano":
        # The twin's PodGroups and pods carry no PriorityClass: the real vc-scheduler sees
        # every job at priority 0, whatever the trace says.
        cfg = VolcanoConfig(schedule_period_s=period_s * speedup,
                            timestamp_resolution_s=1.0 * speedup,
                            priority_classes=False)  # fmt: skip
        return VolcanoPolicy(w.nodes, random.Random(seed), cfg)
    raise ValueError(f"unknown scheduler {scheduler!r}")


def simulate(scheduler: str, w: Workload, seed: int, speedup: float,
             period_s: float = 1.0, hold_until_departure: bool = True,
             kube_queue_order: bool = False,
             keep_follows_drain: bool = True) -> SimRun:  # fmt: skip
    """The simulator's driver on `w` (as `simulator.replay.driver.replay`), keeping which gangs
    started."""
    policy = sim_policy(scheduler, w, seed, speedup, period_s, hold_until_departure,
                        kube_queue_order, keep_follows_drain)  # fmt: skip
    rec = drive(policy, w, seed)
    gangs = {j.uid: j.min_member for j in w.jobs if j.min_member > 1}
    done = {g for g in gangs if g in rec.job_start}
    return SimRun(SIM_POLICY[scheduler], rec.summary(gangs), done)


def as_created(w: Workload) -> Workload:
    """`w` as the twin creates it on the cluster: its pods and PodGroups carry no
    PriorityClass (`devcluster.twin.objects`), so every real scheduler sees each job at
    priority 0, whatever the trace says; the models must too (round 7, RESULTS.md)."""
    return replace(w, jobs=tuple(replace(j, priority=0) if j.priority else j for j in w.jobs))


def drive(policy: ReplayPolicy, w: Workload, seed: int) -> Recorder:
    """Run `policy` over `w` as the twin creates it (`as_created`) to the end; the recorder,
    its tail trimmed after the last start, finish or arrival (the real run's watch stops
    there too)."""
    engine = Engine(np.random.default_rng(seed))
    run = _Run(as_created(w), policy, engine, 200)
    starts: list[float] = []
    decide = policy.schedule

    def schedule(now: float) -> list[Start]:
        out = decide(now)
        if out:
            starts.append(now)
        return out

    policy.schedule = schedule  # type: ignore[method-assign]
    run.start()
    engine.invariant(policy.check)
    engine.run()
    last = max([run.rec.last_finish, *starts, *run.rec.submit.values()])
    trim_tail(run.rec, last)
    run.rec.sample(last, policy.usage())
    return run.rec


SPREAD_METRICS = ("allocated_pct_mean", "queue_delay_s.p50", "queue_delay_s.p95",
                  "gang_wait_s.mean")  # fmt: skip


@dataclass
class Spread:
    """One model's metrics over several seeds (its random tie-breaks): the range a single real
    run, one draw of the real scheduler's own tie-breaks and timing, is judged against."""

    scheduler: str
    seeds: list[int]
    values: dict[str, list[float]]  # metric -> one value per seed
    gangs: list[int]  # gangs completed, per seed

    def range(self, metric: str) -> tuple[float, float]:
        v = self.values[metric]
        return min(v), max(v)

    def within(self, metric: str, real: float) -> bool:
        """`real` lies within the seeds' range widened by the metric's tolerance at each end
        (allocation 2 pp; waits 15 % or 30 s of that end)."""
        lo, hi = self.range(metric)
        if metric.startswith("allocated") or metric.startswith("held"):
            return lo - ALLOC_TOL_PP <= real <= hi + ALLOC_TOL_PP
        return lo - wait_tolerance(lo) <= real <= hi + wait_tolerance(hi)

    def strictly_within(self, metric: str, real: float) -> bool:
        lo, hi = self.range(metric)
        return lo <= real <= hi


def jittered(w: Workload, seed: int, jitter_s: float) -> Workload:
    """`w` with each job's arrival later by a uniform draw in [0, `jitter_s`) trace seconds
    (seeded): the real side creates and binds pods tens of milliseconds late, x speedup, so
    two events the trace gives at one time may come in either order for real."""
    if jitter_s <= 0:
        return w
    rng = random.Random(seed)
    jobs = tuple(replace(j, arrival=j.arrival + rng.uniform(0.0, jitter_s)) for j in w.jobs)
    return replace(w, jobs=jobs)


def seed_spread(scheduler: str, w: Workload, seeds: list[int], speedup: float,
                period_s: float = 1.0, hold_until_departure: bool = True,
                jitter_s: float = 0.0, kube_queue_order: bool = False,
                keep_follows_drain: bool = True) -> Spread:  # fmt: skip
    """The model of `scheduler` on `w` once per seed (`simulate`); `jitter_s` > 0: each seed
    also draws the arrivals' jitter (`jittered`)."""
    values: dict[str, list[float]] = {k: [] for k in SPREAD_METRICS}
    gangs: list[int] = []
    for seed in seeds:
        ws = jittered(w, seed, jitter_s)
        run = simulate(scheduler, ws, seed, speedup, period_s, hold_until_departure,
                       kube_queue_order, keep_follows_drain)  # fmt: skip
        for k in SPREAD_METRICS:
            values[k].append(_get(run.metrics, k))
        gangs.append(len(run.gangs_done))
    return Spread(scheduler, list(seeds), values, gangs)


def trim_tail(rec: Recorder, end: float) -> None:
    """End the span at `end`, the last arrival, start or finish, as the real side's span ends
    at its last observed event: a retry that started nothing after it (`wake_at`, the
    leftover flush) is no event the real watch sees. Nothing changed what was in use after
    `end`, so the tail's area is that use times its length."""
    tail = rec.last_t - end
    if tail <= 0:
        return
    rec.demand_area -= tail * rec.demand_in_use
    rec.held_area -= tail * rec.held_in_use
    rec.useful_area -= tail * rec.useful_in_use
    rec.useful_held_area -= tail * rec.useful_held_in_use
    rec.last_t = end


@dataclass
class Row:
    metric: str
    real: float
    sim: float
    tolerance: float | None  # None: reported, not judged

    @property
    def diff(self) -> float:
        return self.real - self.sim

    @property
    def ok(self) -> bool | None:
        return None if self.tolerance is None else abs(self.diff) <= self.tolerance + 1e-9


@dataclass
class Comparison:
    scheduler: str
    sim_policy: str
    rows: list[Row] = field(default_factory=list)
    gangs_real: set[str] = field(default_factory=set)
    gangs_sim: set[str] = field(default_factory=set)
    wall_s: float = 0.0

    @property
    def same_gangs(self) -> bool:
        return self.gangs_real == self.gangs_sim

    @property
    def ok(self) -> bool:
        return self.same_gangs and all(r.ok is not False for r in self.rows)

    def to_json(self) -> dict[str, object]:
        return {
            "scheduler": self.scheduler,
            "sim_policy": self.sim_policy,
            "wall_s": round(self.wall_s, 1),
            "ok": self.ok,
            "same_gangs": self.same_gangs,
            "gangs_real": len(self.gangs_real),
            "gangs_sim": len(self.gangs_sim),
            "metrics": {
                r.metric: {"real": r.real, "sim": r.sim, "diff": round(r.diff, 3),
                           "tolerance": r.tolerance, "ok": r.ok}  # fmt: skip
                for r in self.rows
            },
        }


def _get(m: dict[str, object], path: str) -> float:
    cur: object = m
    for part in path.split("."):
        assert isinstance(cur, dict)
        cur = cur[part]
    return float(cur)  # type: ignore[arg-type]


def wait_tolerance(sim_value: float) -> float:
    return max(WAIT_TOL_REL * abs(sim_value), WAIT_TOL_ABS_S)


def compare(
    scheduler: str, real: dict[str, object], sim: SimRun, gangs_real: set[str], wall_s: float
) -> Comparison:
    c = Comparison(scheduler, sim.policy, gangs_real=gangs_real, gangs_sim=sim.gangs_done,
                   wall_s=wall_s)  # fmt: skip
    s = sim.metrics
    for key in ("allocated_pct_mean", "held_pct_mean"):
        c.rows.append(Row(key, _get(real, key), _get(s, key), ALLOC_TOL_PP))
    for key in ("queue_delay_s.p50", "queue_delay_s.p95"):
        sv = _get(s, key)
        c.rows.append(Row(key, _get(real, key), sv, wait_tolerance(sv)))
    for key in ("jct_s.mean", "jct_s.p95", "gang_wait_s.mean", "finished", "makespan_s"):
        c.rows.append(Row(key, _get(real, key), _get(s, key), None))
    return c


def table(comparisons: list[Comparison]) -> str:
    head = f"{'scheduler':<9} {'metric':<20} {'real':>10} {'simulated':>10} {'diff':>9}  verdict"
    lines = [head, "-" * len(head)]
    for c in comparisons:
        for r in c.rows:
            verdict = "" if r.ok is None else ("ok" if r.ok else f"OUT (tol {r.tolerance:g})")
            lines.append(f"{c.scheduler:<9} {r.metric:<20} {r.real:>10.2f} {r.sim:>10.2f} "
                         f"{r.diff:>+9.2f}  {verdict}")  # fmt: skip
        gangs = "ok" if c.same_gangs else "OUT"
        only_r = len(c.gangs_real - c.gangs_sim)
        only_s = len(c.gangs_sim - c.gangs_real)
        lines.append(f"{c.scheduler:<9} {'gangs completed':<20} {len(c.gangs_real):>10} "
                     f"{len(c.gangs_sim):>10} {'':>9}  {gangs} (real only {only_r}, "
                     f"sim only {only_s})")  # fmt: skip
        lines.append(f"{c.scheduler:<9} vs {c.sim_policy}: {'WITHIN' if c.ok else 'OUTSIDE'} "
                     f"tolerances; real run took {c.wall_s:.0f} s wall")  # fmt: skip
    return "\n".join(lines)
