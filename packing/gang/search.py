"""The CP-SAT search of `packing.gang.planner.plan_gang` (build -> solve -> interpret), run
when the greedy plan does not meet the lower bound. Its own module so that OR-Tools is imported
with the first gang that needs a search, not with the planner.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
from ortools.sat.python import cp_model

from packing.catalogue import get_model
from packing.errors import InvalidPlacementError
from packing.fractional import MILLI_PER_GPU
from packing.gang.cost import CostModel
from packing.gang.decode import Classes, decode
from packing.gang.greedy import INF, models_for, node_scores
from packing.gang.state import UNTRACKED, FleetState, evaluate_plan
from packing.gang.types import GangMember, GangPlan, MemberPlacement, NodeSlot, Status

__all__ = ["search"]


def _prune(
    st: FleetState, classes: Classes, greedy_nodes: set[int], max_nodes: int
) -> tuple[list[int], bool, str]:
    """(candidate node positions, whether any node that could host a member was dropped, why)."""
    pos = np.arange(len(st.node_of), dtype=np.int64)
    best = np.full(len(st.nodes), INF, dtype=np.int64)
    for members in classes.values():
        sc = node_scores(st, members[0], pos)
        if (sc >= INF).all():
            return [], False, f"no node can host gang member {members[0].key} on its own"
        best = np.minimum(best, sc)
    able = [int(i) for i in np.flatnonzero(best < INF)]
    ranked = sorted(able, key=lambda i: (i not in greedy_nodes, int(best[i]), i))
    keep = sorted(ranked[: max(max_nodes, len(greedy_nodes))])
    return keep, len(keep) < len(able), ""


def search(
    st: FleetState,
    members: Sequence[GangMember],
    nodes: Sequence[NodeSlot],
    cost: CostModel,
    g_plan: Mapping[str, MemberPlacement] | None,
    g_obj: int | None,
    *,
    time_limit_s: float,
    seed: int,
    workers: int,
    max_nodes: int | None,
) -> GangPlan:
    """CP-SAT over the pruned candidates, hinted and bounded by the greedy plan (`g_plan`, its
    objective `g_obj`; None when greedy found none). Status: optimal | feasible | greedy |
    infeasible."""
    classes: Classes = {}
    for m in sorted(members, key=lambda m: m.key):
        classes.setdefault(m.shape(), []).append(m)
    g_nodes = set() if g_plan is None else {st.node_pos[p.node] for p in g_plan.values()}
    # candidates: the greedy plan's nodes and the 8 best-scoring others
    limit = max_nodes if max_nodes is not None else len(g_nodes) + 8
    cand, pruned, why = _prune(st, classes, g_nodes, limit)
    if not cand:
        return GangPlan("infeasible", reason=why, nodes_considered=0)
    built = _build(st, classes, cand, cost, g_plan, g_obj)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit_s
    solver.parameters.random_seed = seed
    solver.parameters.num_workers = workers
    code = solver.solve(built.model)
    n = len(cand)

    def fallback(reason: str) -> GangPlan:
        if g_plan is not None:
            return GangPlan("greedy", g_plan, g_obj, reason, n)
        return GangPlan(
            "infeasible", reason=reason + "; greedy found no placement either", nodes_considered=n
        )

    if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        plan = built.read(st, classes, solver.value)
        try:
            obj = evaluate_plan(members, nodes, plan, cost)
        except InvalidPlacementError as exc:  # a modelling bug must not reach a cluster
            return fallback(f"CP-SAT plan rejected by the exact check: {exc}")
        if g_plan is not None and g_obj is not None and obj > g_obj:
            return GangPlan("greedy", g_plan, g_obj, "greedy plan better than CP-SAT's", n)
        status: Status = "optimal" if code == cp_model.OPTIMAL else "feasible"
        note = " among the pruned candidates" if pruned and status == "optimal" else ""
        return GangPlan(status, plan, obj, f"CP-SAT {status}{note}", n)
    if code == cp_model.INFEASIBLE:
        if g_plan is not None:  # cannot happen: the greedy plan is a solution of the model
            return fallback("CP-SAT reported infeasible although greedy found a plan")
        scope = f"the {n} best candidate nodes" if pruned else f"all {n} nodes that fit a member"
        return GangPlan(
            "infeasible", reason=f"no all-or-nothing placement on {scope}", nodes_considered=n
        )
    if code == cp_model.UNKNOWN:
        return fallback(f"time limit {time_limit_s}s reached without a CP-SAT solution")
    # MODEL_INVALID (or any status a later OR-Tools adds)
    return fallback(
        f"CP-SAT status {solver.status_name(code)}: {built.model.validate() or 'no detail'}"
    )


class _Model(cp_model.CpModel):
    """A CpModel without the camelCase aliases OR-Tools attaches to every new model (a dir()
    walk costing ~1 ms per model, most of a small gang's build); this code uses snake_case."""

    def _add_pre_pep8_methods(self) -> None:
        pass


class Built:
    """The CP-SAT model and the variables `read` decodes."""

    def __init__(self) -> None:
        self.model = _Model()
        self.x: dict[tuple[object, int], cp_model.IntVar] = {}  # (shape, node) -> members
        self.y: dict[tuple[object, int], cp_model.IntVar] = {}  # (shape, GPU) -> whole/shares
        self.ycap: dict[tuple[object, int], int] = {}  # upper bound of each y
        # per GPU position: (index var, cost var, values the index selects) for hints
        self.aux: dict[int, tuple[cp_model.IntVar, cp_model.IntVar, list[int]]] = {}
        self.u: dict[int, cp_model.IntVar] = {}  # node used (fewest_nodes only)
        self.z: dict[tuple[object, int], dict[int, cp_model.IntVar]] = {}  # new MIG by start
        self.e: dict[tuple[object, int], cp_model.IntVar] = {}  # existing free MIG instances

    def read(
        self, st: FleetState, classes: Classes, value: Callable[[cp_model.IntVar], int]
    ) -> dict[str, MemberPlacement]:
        zsel = {k: [s for s, v in d.items() if value(v)] for k, d in self.z.items()}
        return decode(
            st,
            classes,
            {k: value(v) for k, v in self.x.items()},
            {k: value(v) for k, v in self.y.items()},
            zsel,
            {k: value(v) for k, v in self.e.items()},
        )


def _unit_vars(
    b: Built, st: FleetState, c: object, m: GangMember, size: int, p: int
) -> list[cp_model.IntVar]:
    """Variables counting units of shape c on GPU position p (empty if p cannot serve c)."""
    md = b.model
    if m.kind in ("whole", "milli"):
        need = MILLI_PER_GPU if m.whole else m.milli
        free, fmem = int(st.free_milli[p]), int(st.free_mem[p])
        if st.mig[p] or free < need or fmem < m.gpu_memory_mib:
            return []
        cap = (
            1
            if m.whole
            else min(free // need, size, fmem // m.gpu_memory_mib if m.gpu_memory_mib else size)
        )
        b.y[c, p] = md.new_int_var(0, cap, f"y{p}")  # whole GPUs (0/1) or shares on p
        b.ycap[c, p] = cap
        return [b.y[c, p]]
    if not st.mig[p]:
        return []
    prof = get_model(st.models[st.model_id[p]]).profile(m.mig_profile or "")
    out: list[cp_model.IntVar] = []
    if st.dynamic[p] and not (prof.media_extension and st.me_used[p]):
        # z[c,p,s] = 1: a new instance of c's profile at start s (free slices only)
        zs = {
            s: md.new_bool_var(f"z{p}_{s}")
            for s in prof.placements
            if not int(st.mask[p]) & prof.span(s)
        }
        if zs:
            b.z[c, p] = zs
            out += list(zs.values())
    free_existing = sum(1 for name, _ in st.free_inst[p] if name == prof.name)
    if free_existing:
        b.e[c, p] = md.new_int_var(0, min(free_existing, size * m.mig_count), f"e{p}")
        out.append(b.e[c, p])
    return out


def _reachable(free: int, uses: list[tuple[int, int]]) -> list[int]:
    """Free milli values a GPU can end with: free - sum_k a_k * use_k, a_k <= cap_k, >= 0."""
    vals = {free}
    for use, cap in uses:
        vals = {v - a * use for v in vals for a in range(cap + 1) if v - a * use >= 0}
    return sorted(vals)


def _gpu_constraints(
    b: Built, st: FleetState, p: int, users: list[tuple[object, GangMember]], cost: CostModel
) -> cp_model.LinearExprT:
    """Capacity of GPU position p across shapes; returns its cost change (objective term)."""
    md = b.model
    if not st.mig[p]:
        ys = [(m, b.y[c, p], b.ycap[c, p]) for c, m in users if (c, p) in b.y]
        if not ys:
            return 0
        free = int(st.free_milli[p])
        # milli used on p <= free milli; GPU memory of shares <= free memory
        used = sum((MILLI_PER_GPU if m.whole else m.milli) * v for m, v, _ in ys)
        md.add(used <= free)
        if int(st.free_mem[p]) < UNTRACKED:
            md.add(sum(m.gpu_memory_mib * v for m, v, _ in ys) <= int(st.free_mem[p]))
        # cost: f = share_table[free - used], through the few values `free - used` can take:
        # after = vals[i], f = share_table[vals[i]] (two element constraints on one index i)
        vals = _reachable(free, [(MILLI_PER_GPU if m.whole else m.milli, cap) for m, _, cap in ys])
        i = md.new_int_var(0, len(vals) - 1, f"i{p}")
        md.add_element(i, vals, free - used)
        table = [int(cost.share[v]) for v in vals]
        f = md.new_int_var(min(table), max(table), f"f{p}")
        md.add_element(i, table, f)
        b.aux[p] = (i, f, vals)
        return f - int(cost.share[free])
    model = get_model(st.models[st.model_id[p]])
    mask0 = int(st.mask[p])
    news = [
        (model.profile(m.mig_profile or ""), s, v)
        for c, m in users
        for s, v in b.z.get((c, p), {}).items()
    ]
    # existing free instances: sum_c e[c,p] <= free instances of that profile on p
    by_prof: dict[str, list[cp_model.IntVar]] = {}
    for c, m in users:
        if (c, p) in b.e:
            by_prof.setdefault(model.profile(m.mig_profile or "").name, []).append(b.e[c, p])
    for name, vs in by_prof.items():
        md.add(sum(vs) <= sum(1 for n, _ in st.free_inst[p] if n == name))
    if not news:
        return 0
    # memory slice t free now: at most one new instance covers it
    for t in range(model.memory_slices):
        cover = [v for prof, s, v in news if prof.span(s) >> t & 1]
        if len(cover) > 1:
            md.add(sum(cover) <= 1)
    # per-profile maximum, one +me per GPU, compute budget (all counting existing instances)
    have = {q.name: sum(1 for i in st.existing[p] if i.profile == q.name) for q in model.profiles}
    for q in model.profiles:
        vs = [v for prof, _, v in news if prof.name == q.name]
        if vs:
            md.add(sum(vs) <= q.max_count - have[q.name])
    me = [v for prof, _, v in news if prof.media_extension]
    if me:
        md.add(sum(me) <= 1 - int(st.me_used[p]))
    used_c = sum(model.profile(i.profile).compute_slices for i in st.existing[p])
    md.add(sum(prof.compute_slices * v for prof, _, v in news) <= model.compute_slices - used_c)
    # cost: f = mig_table[mask], mask = mask0 + sum span(s) * z (spans disjoint, so + is OR)
    table = [int(v) for v in cost.mig(model.key)]
    idx = md.new_int_var(0, len(table) - 1, f"mask{p}")
    md.add(idx == mask0 + sum(prof.span(s) * v for prof, s, v in news))
    f = md.new_int_var(min(table), max(table), f"f{p}")
    md.add_element(idx, table, f)
    b.aux[p] = (idx, f, list(range(len(table))))
    return f - table[mask0]


def _build(
    st: FleetState,
    classes: Classes,
    cand: list[int],
    cost: CostModel,
    g_plan: Mapping[str, MemberPlacement] | None,
    g_obj: int | None,
) -> Built:
    b = Built()
    md = b.model
    gpu_users: dict[int, list[tuple[object, GangMember]]] = {}
    for c, mem in classes.items():
        m0 = mem[0]
        allowed = {st.models.index(k) for k in models_for(m0) if k in st.models}
        for ni in cand:
            # x[c,n] in 0..|c|: members of shape c placed on node n
            b.x[c, ni] = md.new_int_var(0, len(mem), f"x{ni}")
            units: list[cp_model.IntVar] = []
            lo = st.first_gpu[ni]
            for p in range(lo, lo + len(st.nodes[ni].gpus)):
                if st.model_id[p] in allowed:
                    got = _unit_vars(b, st, c, m0, len(mem), p)
                    if got:
                        units += got
                        gpu_users.setdefault(p, []).append((c, m0))
            # each member of c on n gets all its units there: sum units = need * x[c,n]
            md.add(sum(units) == (m0.whole or m0.mig_count or 1) * b.x[c, ni])
        # all or nothing: sum_n x[c,n] = |c|
        md.add(sum(b.x[c, ni] for ni in cand) == len(mem))
    # CPU and memory per node: sum_c request_c * x[c,n] <= free_n
    for ni in cand:
        md.add(sum(mem[0].cpu_milli * b.x[c, ni] for c, mem in classes.items()) <= int(st.cpu[ni]))
        md.add(
            sum(mem[0].memory_bytes * b.x[c, ni] for c, mem in classes.items()) <= int(st.mem[ni])
        )
    terms = [_gpu_constraints(b, st, p, users, cost) for p, users in gpu_users.items()]
    if cost.objective == "fewest_nodes":
        # u[n] = 1 if node n hosts a member: x[c,n] <= |c| * u[n]; objective adds BIG * u[n]
        for ni in cand:
            u = b.u[ni] = md.new_bool_var(f"u{ni}")
            for c, mem in classes.items():
                md.add(b.x[c, ni] <= len(mem) * u)
            terms.append(cost.big * u)
    total = sum(terms)
    md.minimize(total)
    if g_obj is not None:
        md.add(total <= g_obj)  # never worse than greedy (whose plan satisfies this model)
    if g_plan is not None:
        _hint(b, st, classes, g_plan)
    return b


def _hint(
    b: Built, st: FleetState, classes: Classes, g_plan: Mapping[str, MemberPlacement]
) -> None:
    """Start the search from the greedy plan."""
    x: dict[tuple[object, int], int] = {}
    y: dict[tuple[object, int], int] = {}
    z: set[tuple[object, int, int]] = set()
    e: dict[tuple[object, int], int] = {}
    for c, mem in classes.items():
        for m in mem:
            mp = g_plan[m.key]
            ni = st.node_pos[mp.node]
            x[c, ni] = x.get((c, ni), 0) + 1
            for g in mp.grants:
                p = st.gpu_pos(ni, g.index)
                if g.profile is None:
                    y[c, p] = y.get((c, p), 0) + 1
                elif g.existing:
                    e[c, p] = e.get((c, p), 0) + 1
                else:
                    z.add((c, p, int(g.start or 0)))
    for k, v in b.x.items():
        b.model.add_hint(v, x.get(k, 0))
    for k, v in b.y.items():
        b.model.add_hint(v, y.get(k, 0))
    for k, v in b.e.items():
        b.model.add_hint(v, e.get(k, 0))
    for (cz, p), d in b.z.items():
        for s, v in d.items():
            b.model.add_hint(v, int((cz, p, s) in z))
    # the auxiliary cost variables too, so the hint is a complete solution: replay the plan
    after = st.copy()
    for mem in classes.values():
        for m in mem:
            ni = after.node_pos[g_plan[m.key].node]
            for g in g_plan[m.key].grants:
                after.apply(ni, m, g)
    for p, (ivar, fvar, vals) in b.aux.items():
        end = int(after.mask[p]) if after.mig[p] else int(after.free_milli[p])
        b.model.add_hint(ivar, vals.index(end))
        b.model.add_hint(fvar, after.gpu_cost(p))
    for ni, u in b.u.items():
        b.model.add_hint(u, int(any(x.get((c, ni), 0) for c in classes)))
