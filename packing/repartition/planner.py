"""Repartition planner (CP-SAT): target MIG layouts that serve the most pending demand with the
fewest instance changes; in-use instances are pinned.  Output: per-GPU target layouts and a
mig-parted `version: v1` config (see packing.repartition.types).

Demand is pending work: {profile: instances wanted}.  Free (not in use) instances serve it;
an instance can be kept, destroyed (if free) or created.  Lexicographic objective:
maximise served demand, then minimise created + destroyed instances.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ortools.sat.python import cp_model

from packing.errors import PackingError, UnknownProfileError
from packing.gang.types import NodeSlot, Status
from packing.mig import MigInstance, check_layout, validate_demand
from packing.repartition.greedy import GpuRef, free_count, greedy_layouts, mig_gpus
from packing.repartition.types import GpuTarget, NodeTarget, RepartitionPlan

__all__ = ["plan_repartition"]

Var = cp_model.IntVar


def _validate(gpus: Sequence[GpuRef], demand: Mapping[str, int]) -> dict[str, int]:
    if not gpus:
        raise PackingError("no MIG-enabled GPU to repartition")
    known = sorted({p for g in gpus for p in g.model.profile_names})
    out: dict[str, int] = {}
    for name, count in demand.items():
        for g in gpus:
            try:  # accepts "MIG 1g.10gb" and "nvidia.com/mig-1g.10gb" spellings too
                g.model.profile(name)
            except UnknownProfileError:
                continue
            for p, c in validate_demand(g.model, {name: count}).items():
                out[p] = out.get(p, 0) + c
            break
        else:
            raise UnknownProfileError("the MIG GPUs given", name, known)
    return {p: c for p, c in out.items() if c}


def _order(xs: frozenset[MigInstance]) -> tuple[MigInstance, ...]:
    return tuple(sorted(xs, key=lambda i: (i.start, i.profile)))


def _result(status: Status, gpus: Sequence[GpuRef], layouts: Sequence[frozenset[MigInstance]],
            demand: Mapping[str, int], reason: str) -> RepartitionPlan:
    nodes: dict[str, list[GpuTarget]] = {}
    changes = 0
    for g, lay in zip(gpus, layouts, strict=True):
        check_layout(g.model, lay)  # the exact rules, again, on the final answer
        old = frozenset(i for i, _ in g.slot.instances)
        if not g.pinned <= lay:
            raise PackingError(f"internal: plan touches an in-use instance on {g.node}")

        t = GpuTarget(g.slot.index, g.model.key, _order(lay), _order(g.pinned),
                      _order(lay - old), _order(old - lay))
        changes += len(t.created) + len(t.destroyed)
        nodes.setdefault(g.node, []).append(t)
    served = {p: min(c, free_count(gpus, layouts, p)) for p, c in demand.items()}
    unmet = {p: c - served[p] for p, c in demand.items() if c > served[p]}
    return RepartitionPlan(status, tuple(NodeTarget(n, tuple(ts)) for n, ts in nodes.items()),
                           served, unmet, changes, reason)


def plan_repartition(nodes: Sequence[NodeSlot], demand: Mapping[str, int], *,
                     time_limit_s: float = 5.0, seed: int = 0,
                     workers: int = 1) -> RepartitionPlan:
    gpus = mig_gpus(nodes)
    want = _validate(gpus, demand)
    if not time_limit_s > 0 or workers < 1:
        raise PackingError(f"time_limit_s must be > 0 and workers >= 1, got {time_limit_s!r}, "
                           f"{workers!r}")
    greedy = greedy_layouts(gpus, want)
    md = cp_model.CpModel()
    v: list[dict[MigInstance, Var]] = []
    change_terms: list[cp_model.LinearExprT] = []
    for gi, g in enumerate(gpus):
        pinned_mask = check_layout(g.model, g.pinned)
        old = {i for i, _ in g.slot.instances}
        # v[g][p@s] = 1: instance p@s exists afterwards (pinned ones fixed to 1; options that
        # overlap a pinned instance are left out)
        opts = {MigInstance(q.name, s): md.new_bool_var(f"v{gi}_{q.name}_{s}")
                for q in g.model.profiles for s in q.placements
                if MigInstance(q.name, s) in g.pinned or not pinned_mask & q.span(s)}
        for inst in g.pinned:
            md.add(opts[inst] == 1)
        v.append(opts)
        prof = {i: g.model.profile(i.profile) for i in opts}
        # memory slice t: at most one instance covers it
        for t in range(g.model.memory_slices):
            cover = [x for i, x in opts.items() if prof[i].span(i.start) >> t & 1]
            if len(cover) > 1:
                md.add(sum(cover) <= 1)
        # per-profile maximum, one +me instance, compute budget
        for q in g.model.profiles:
            md.add(sum(x for i, x in opts.items() if i.profile == q.name) <= q.max_count)
        md.add(sum(x for i, x in opts.items() if prof[i].media_extension) <= 1)
        md.add(sum(prof[i].compute_slices * x for i, x in opts.items())
               <= g.model.compute_slices)
        # changes: a free existing instance dropped (1 - v) or a new one created (v)
        change_terms += [(1 - x) if i in old else x for i, x in opts.items()
                         if i not in g.pinned]
    served: dict[str, Var] = {}
    for p, c in want.items():
        # served_p <= demand_p and <= free instances of p afterwards (pinned ones excluded)
        served[p] = md.new_int_var(0, c, f"served_{p}")
        pinned_p = sum(1 for g in gpus for i in g.pinned if i.profile == p)
        md.add(served[p] <= sum(x for opts in v for i, x in opts.items() if i.profile == p)
               - pinned_p)
    weight = len(change_terms) + 1  # one more served instance beats any number of changes
    objective = cp_model.LinearExpr.weighted_sum(
        [*served.values(), *change_terms], [weight] * len(served) + [-1] * len(change_terms))
    md.maximize(objective)
    for opts, lay in zip(v, greedy, strict=True):
        for i, x in opts.items():
            md.add_hint(x, int(i in lay))
    g_served = {p: min(c, free_count(gpus, greedy, p)) for p, c in want.items()}
    for p, x in served.items():
        md.add_hint(x, g_served[p])
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit_s
    solver.parameters.random_seed = seed
    solver.parameters.num_workers = workers
    code = solver.solve(md)
    if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        layouts = [frozenset(i for i, x in opts.items() if solver.value(x)) for opts in v]
        plan = _result("optimal" if code == cp_model.OPTIMAL else "feasible", gpus, layouts,
                       want, f"CP-SAT {solver.status_name(code).lower()}")
        g_plan = _result("greedy", gpus, greedy, want, "greedy plan better than CP-SAT's")
        if (sum(g_plan.served.values()), -g_plan.changes) > \
                (sum(plan.served.values()), -plan.changes):
            return g_plan
        return plan
    if code == cp_model.INFEASIBLE:  # cannot happen: keeping every layout is a solution
        return _result("greedy", gpus, greedy, want, "CP-SAT reported infeasible; greedy plan")
    if code == cp_model.UNKNOWN:
        return _result("greedy", gpus, greedy, want,
                       f"time limit {time_limit_s}s reached without a CP-SAT solution")
    return _result("greedy", gpus, greedy, want,
                   f"CP-SAT status {solver.status_name(code)}: {md.validate() or 'no detail'}")
