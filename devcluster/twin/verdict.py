"""The twin's verdict: one real run against its model's range over seeds (issue 13).

The models are stochastic (random tie-breaks; Volcano's session chain draws each session's run
time with seeded noise), so one seed is one draw, and so is the real run. A judged metric
passes when the real value lies within the seeds' range [min, max] widened at each end by the
issue's tolerance taken at that end (`compare.range_verdict`): `in range`, `within tolerance`
or `OUT`. Gangs: the real run completed the same gangs as one of the seeds. With one seed the
verdict is the seed-0 verdict the twin gave before (|real - sim| <= tol(sim), the same gangs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from statistics import median

from devcluster.twin.compare import (
    IN_RANGE,
    JUDGED_METRICS,
    OUT,
    REPORTED_METRICS,
    Spread,
    metric_value,
    off_range,
    range_verdict,
    tolerance,
)


@dataclass
class Row:
    metric: str
    real: float
    seeds: list[float]  # the model's value on each seed, the first seed first
    judged: bool = True

    @property
    def sim(self) -> float:
        """The first seed's value (seed 0 unless `--seed` says otherwise)."""
        return self.seeds[0]

    @property
    def diff(self) -> float:
        return self.real - self.sim

    @property
    def tolerance(self) -> float | None:
        """The tolerance around the first seed's value (the seed-0 verdict's); None: reported,
        not judged."""
        return tolerance(self.metric, self.sim) if self.judged else None

    @property
    def lo(self) -> float:
        return min(self.seeds)

    @property
    def hi(self) -> float:
        return max(self.seeds)

    @property
    def median(self) -> float:
        return float(median(self.seeds))

    @property
    def off(self) -> float:
        """The real value minus the nearest end of the seeds' range; 0 inside."""
        return off_range(self.lo, self.hi, self.real)

    @property
    def verdict(self) -> str | None:
        return range_verdict(self.metric, self.lo, self.hi, self.real) if self.judged else None

    @property
    def ok(self) -> bool | None:
        return None if not self.judged else self.verdict != OUT

    def to_json(self) -> dict[str, object]:
        doc: dict[str, object] = {
            "real": self.real, "sim": self.sim, "diff": round(self.diff, 3),
            "tolerance": self.tolerance, "ok": self.ok, "seeds": len(self.seeds),
            "min": self.lo, "median": self.median, "max": self.hi,
            "off_range": round(self.off, 3), "verdict": self.verdict,
        }  # fmt: skip
        if self.judged:
            doc["range_tolerance"] = [tolerance(self.metric, self.lo),
                                      tolerance(self.metric, self.hi)]  # fmt: skip
        return doc


@dataclass
class Comparison:
    scheduler: str
    sim_policy: str
    rows: list[Row] = field(default_factory=list)
    gangs_real: set[str] = field(default_factory=set)
    gang_sets: list[frozenset[str]] = field(default_factory=list)  # per seed, the first first
    seeds: list[int] = field(default_factory=lambda: [0])
    wall_s: float = 0.0  # the real run
    model_wall_s: float = 0.0  # the model on every seed

    @property
    def gangs_sim(self) -> set[str]:
        return set(self.gang_sets[0]) if self.gang_sets else set()

    @property
    def same_gangs(self) -> bool:
        """The real run completed the first seed's gangs (the seed-0 rule)."""
        return self.gangs_real == self.gangs_sim

    @property
    def gangs_verdict(self) -> str:
        """`in range` when the real run completed the same gangs as one of the seeds."""
        return IN_RANGE if frozenset(self.gangs_real) in self.gang_sets else OUT

    @property
    def ok(self) -> bool:
        return self.gangs_verdict != OUT and all(r.ok is not False for r in self.rows)

    def to_json(self) -> dict[str, object]:
        counts = [len(g) for g in self.gang_sets]
        return {
            "scheduler": self.scheduler,
            "sim_policy": self.sim_policy,
            "wall_s": round(self.wall_s, 1),
            "model_seeds": self.seeds,
            "model_wall_s": round(self.model_wall_s, 2),
            "ok": self.ok,
            "same_gangs": self.same_gangs,
            "gangs_real": len(self.gangs_real),
            "gangs_sim": len(self.gangs_sim),
            "gangs_seeds": {
                "min": min(counts, default=0),
                "median": median(counts or [0]),
                "max": max(counts, default=0),
                "count_in_seeds": len(self.gangs_real) in counts,
                "verdict": self.gangs_verdict,
            },  # fmt: skip
            "metrics": {r.metric: r.to_json() for r in self.rows},
        }


def judge(scheduler: str, sim_policy: str, real: dict[str, object], spread: Spread,
          gangs_real: set[str], wall_s: float = 0.0) -> Comparison:  # fmt: skip
    """The real metrics of one run against `spread`, the model's run on each seed."""
    c = Comparison(scheduler, sim_policy, gangs_real=set(gangs_real),
                   gang_sets=list(spread.gang_sets), seeds=list(spread.seeds), wall_s=wall_s,
                   model_wall_s=spread.wall_s)  # fmt: skip
    for key in JUDGED_METRICS:
        c.rows.append(Row(key, metric_value(real, key), list(spread.values[key])))
    for key in REPORTED_METRICS:
        c.rows.append(Row(key, metric_value(real, key), list(spread.values[key]), judged=False))
    return c


def seeds_text(seeds: list[int]) -> str:
    if len(seeds) == 1:
        return f"1 seed ({seeds[0]})"
    contiguous = seeds == list(range(seeds[0], seeds[0] + len(seeds)))
    return f"{len(seeds)} seeds ({seeds[0]}-{seeds[-1]})" if contiguous else f"{len(seeds)} seeds"


def table(comparisons: list[Comparison]) -> str:
    seeds = comparisons[0].seeds if comparisons else [0]
    first = seeds[0]
    intro = (f"model: each scheduler's model on {seeds_text(seeds)}; a judged metric is 'in "
             "range' inside the seeds' min-max, 'within tolerance' within the issue's "
             "tolerance of the nearest end, else OUT; 'off': real minus that end")  # fmt: skip
    head = (f"{'scheduler':<9} {'metric':<20} {'real':>10} {f'seed {first}':>10} {'min':>10} "
            f"{'median':>10} {'max':>10} {'off':>9}  verdict")  # fmt: skip
    lines = [intro, head, "-" * len(head)]
    for c in comparisons:
        for r in c.rows:
            verdict = r.verdict or ""
            if r.verdict == OUT:
                verdict += f" (tol {tolerance(r.metric, r.hi if r.off > 0 else r.lo):,.1f})"
            lines.append(f"{c.scheduler:<9} {r.metric:<20} {r.real:>10.2f} {r.sim:>10.2f} "
                         f"{r.lo:>10.2f} {r.median:>10.2f} {r.hi:>10.2f} {r.off:>+9.2f}  "
                         f"{verdict}")  # fmt: skip
        counts = [len(g) for g in c.gang_sets]
        only_r = len(c.gangs_real - c.gangs_sim)
        only_s = len(c.gangs_sim - c.gangs_real)
        lines.append(f"{c.scheduler:<9} {'gangs completed':<20} {len(c.gangs_real):>10} "
                     f"{len(c.gangs_sim):>10} {min(counts, default=0):>10} "
                     f"{median(counts or [0]):>10g} {max(counts, default=0):>10} {'':>9}  "
                     f"{c.gangs_verdict} (vs seed {first}: real only {only_r}, sim only "
                     f"{only_s})")  # fmt: skip
        verdict = "WITHIN" if c.ok else "OUTSIDE"
        took = f"real run took {c.wall_s:.0f} s wall, " if c.wall_s > 0 else ""
        lines.append(f"{c.scheduler:<9} vs {c.sim_policy} on {seeds_text(c.seeds)}: {verdict} "
                     f"tolerances; {took}the model's seeds {c.model_wall_s:.1f} s")  # fmt: skip
    return "\n".join(lines)
