"""A `Report` from a capacity plan (`tessera plan capacity`): the GPUs-saved sentence first,
the smallest cluster per policy, every run behind it, and the capacity curve."""

from __future__ import annotations

from collections.abc import Sequence

from simulator.capacity.plan import PolicyCapacity, savings_sentence
from simulator.capacity.slo import Objective
from simulator.report.document import ChartSpec, Report, Row


def capacity_report(caps: Sequence[PolicyCapacity], objectives: Sequence[Objective],
                    trace: str, title: str = "Tessera capacity plan",
                    layouts: Sequence[Row] = ()) -> Report:
    """`layouts`: rows of simulator.capacity.layouts.PlannedLayouts.rows (the static MIG
    layouts each probed cluster size used), listed and summed up in a note."""
    answer: list[Row] = [{"trace": trace, "policy": c.policy,
                          "nodes": -1 if c.nodes is None else c.nodes,
                          "gpus": -1 if c.gpus is None else c.gpus,
                          "met": "yes" if c.nodes is not None else "no"} for c in caps]
    runs: list[Row] = [{"trace": trace, "policy": c.policy, "nodes": p.nodes,
                        "met": "yes" if p.met else "no", **p.detail}
                       for c in caps for p in c.probes]
    first = objectives[0]
    key = f"attain_p{first.quantile:g}_pct"
    curve: list[Row] = [{"trace": trace, "policy": r["policy"], "gpus": r["gpus"],
                         "attainment_pct": r[key]} for r in runs]
    used = sorted({f"{r['layout']} ({r['source']})" for r in layouts})
    mig_note = ("MIG GPUs held no instance in any probe (no MIG node)." if not layouts else
                "Static MIG layouts (what volcano, kube-default and tessera-static see; tessera "
                "with dynamic MIG places its own instances), per probed MIG GPU count in "
                "mig_layouts: " + "; ".join(used) + ".")
    return Report(
        title,
        verdicts=[savings_sentence(caps, objectives)],
        sources=[f"{trace}: {len(runs)} simulated serving runs (one per policy and node count "
                 "probed)"],
        tables={"capacity_answer": answer, "capacity_runs": runs,
                **({"mig_layouts": [dict(r) for r in layouts]} if layouts else {})},
        datasets={"capacity_curve": curve},
        charts=[ChartSpec("capacity_curve", "point", "gpus", "attainment_pct", "policy",
                          f"Capacity curve: requests waiting <= {first.seconds:g} s",
                          "GPUs in the cluster", "requests within the wait objective (%)",
                          facet="trace")],
        notes=["Nodes are searched by doubling then bisection, assuming more nodes never "
               "break the objectives; every probe is listed in capacity_runs. -1 in the "
               "answer: not met within --max-nodes.", mig_note],
    )
