"""Greedy gang packer: members largest first, each onto the node and GPU(s) whose cost change
is smallest (with "fewest_nodes", a node already used by the gang first).  Vectorised over all
GPUs once per member shape, then updated node by node.  It is the CP-SAT model's fallback and
its starting hint; it may fail where an exact search would succeed.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from packing.catalogue import MODELS, GpuModel, MigProfile, get_model
from packing.errors import InvalidPlacementError, UnknownProfileError
from packing.fractional import MILLI_PER_GPU
from packing.gang.cost import CostModel
from packing.gang.state import FleetState
from packing.gang.types import GangMember, Grant, MemberPlacement

INF = np.iinfo(np.int64).max // 4
I64 = npt.NDArray[np.int64]


@lru_cache(maxsize=256)
def _max_new(m: GpuModel, prof: MigProfile) -> npt.NDArray[np.int64]:
    """max_new[mask]: most new `prof` instances that fit around `mask` (geometry only)."""
    n = 1 << m.memory_slices

    def best(mask: int, lo: int) -> int:
        return max(
            [0]
            + [
                1 + best(mask | prof.span(s), s + 1)
                for s in prof.placements
                if s >= lo and not mask & prof.span(s)
            ]
        )

    cap = np.array([best(mask, 0) for mask in range(n)], dtype=np.int64)
    return np.minimum(cap, 1) if prof.media_extension else cap


def _best_new(table: I64, prof: MigProfile, mask: int) -> tuple[int, int]:
    """(cost change, start) of the cheapest new `prof` on a GPU with `mask`; (INF, -1) if none."""
    best = (INF, -1)
    for s in prof.placements:
        span = prof.span(s)
        if not mask & span:
            best = min(best, (int(table[mask | span] - table[mask]), s))
    return best


def new_tables(cost: CostModel, md: GpuModel, prof: MigProfile) -> tuple[I64, I64]:
    """Per mask: (how many new `prof` fit, cost change of the cheapest one); cached on `cost`."""
    key = (md.key, prof.name)
    cache = cost.cache
    if key not in cache:
        table = cost.mig(md.key)
        delta = np.array(
            [_best_new(table, prof, mask)[0] for mask in range(len(table))], dtype=np.int64
        )
        cache[key] = (_max_new(md, prof), delta)
    return cache[key]


def member_size(m: GangMember) -> int:
    """Milli-GPU a member takes (MIG: memory slices as eighths), for largest-first order."""
    if m.whole:
        return m.whole * MILLI_PER_GPU
    if m.mig_count:
        slices = max(
            (
                md.profile(m.mig_profile or "").memory_slices * 1000 // md.memory_slices
                for md in (get_model(k) for k in models_for(m))
            ),
            default=0,
        )
        return m.mig_count * slices
    return m.milli


@lru_cache(maxsize=1024)
def models_for(m: GangMember) -> tuple[str, ...]:
    """Catalogue keys `m` may use: its allowed models that know its MIG profile, if any."""
    keys = [get_model(k).key for k in m.gpu_models] if m.gpu_models else list(MODELS)
    if m.mig_profile is None:
        return tuple(keys)
    out = []
    for k in keys:
        try:
            MODELS[k].profile(m.mig_profile)
        except UnknownProfileError:
            continue
        out.append(k)
    return tuple(out)


def gpu_options(st: FleetState, m: GangMember, pos: I64) -> tuple[I64, I64]:
    """Per GPU in `pos`: (cost change of one unit of `m`, units of `m` it can still take)."""
    delta = np.full(len(pos), INF, dtype=np.int64)
    cap = np.zeros(len(pos), dtype=np.int64)
    allowed = {st.models.index(k) for k in models_for(m) if k in st.models}
    table = np.zeros(len(st.models), dtype=bool)  # model id -> allowed (cheaper than np.isin)
    table[list(allowed)] = True
    ok_model = table[st.model_id[pos]]
    if m.kind in ("whole", "milli"):
        free = st.free_milli[pos]
        need = MILLI_PER_GPU if m.whole else m.milli
        ok = ok_model & ~st.mig[pos] & (free >= need) & (st.free_mem[pos] >= m.gpu_memory_mib)
        after = np.clip(free - need, 0, MILLI_PER_GPU)
        delta[ok] = st.cost.share[after[ok]] - st.cost.share[free[ok]]
        cap[ok] = (
            1
            if m.whole
            else np.minimum(
                free[ok] // m.milli,
                st.free_mem[pos][ok] // max(m.gpu_memory_mib, 1) if m.gpu_memory_mib else INF,
            )
        )
        return delta, cap
    for k in allowed:
        rows = np.flatnonzero(ok_model & st.mig[pos] & (st.model_id[pos] == k))
        if not len(rows):
            continue
        p = pos[rows]
        md = get_model(st.models[k])
        prof = md.profile(m.mig_profile or "")
        cap_t, delta_t = new_tables(st.cost, md, prof)
        masks = st.mask[p]
        new_ok = st.dynamic[p] & ~(st.me_used[p] & prof.media_extension)
        new_cap = np.where(new_ok, cap_t[masks], 0)
        d_new = np.where(new_cap > 0, delta_t[masks], INF)
        existing = np.zeros(len(p), dtype=np.int64)
        for j in np.flatnonzero(st.n_free_inst[p]):
            existing[j] = sum(1 for name, _ in st.free_inst[p[j]] if name == prof.name)
        cap[rows] = existing + new_cap
        # a free existing instance changes nothing (cost 0); prefer it unless new is cheaper
        delta[rows] = np.where((existing > 0) & (d_new >= 0), 0, d_new)
    return delta, cap


def _unit(st: FleetState, m: GangMember, node: int) -> Grant | None:
    """The cheapest single grant for `m` on `node` now (ties: lowest GPU index)."""
    lo = st.first_gpu[node]
    pos = np.arange(lo, lo + len(st.nodes[node].gpus), dtype=np.int64)
    delta, cap = gpu_options(st, m, pos)
    if not (cap > 0).any():
        return None
    j = int(np.lexsort((st.index[pos], np.where(cap > 0, delta, INF)))[0])
    p = int(pos[j])
    idx = int(st.index[p])
    if m.kind == "whole":
        return Grant(idx, whole=True)
    if m.kind == "milli":
        return Grant(idx, milli=m.milli)
    md = get_model(st.models[st.model_id[p]])
    prof = md.profile(m.mig_profile or "")
    d_new, s_new = (INF, -1)
    if st.dynamic[p] and not (prof.media_extension and st.me_used[p]):
        d_new, s_new = _best_new(st.cost.mig(md.key), prof, int(st.mask[p]))
    starts = sorted(s for name, s in st.free_inst[p] if name == prof.name)
    if starts and d_new >= 0:
        return Grant(idx, profile=prof.name, start=starts[0], existing=True)
    return Grant(idx, profile=prof.name, start=s_new)


def _whole_units(st: FleetState, m: GangMember, node: int) -> list[Grant]:
    """The GPUs `_unit` would pick one after another for the whole GPUs of `m` on `node`: taking
    a whole GPU changes no other GPU's cost change or room, so the picks are the free GPUs in
    one (cost change, index) order; raises InvalidPlacementError when too few are free."""
    lo = st.first_gpu[node]
    pos = np.arange(lo, lo + len(st.nodes[node].gpus), dtype=np.int64)
    delta, cap = gpu_options(st, m, pos)
    order = np.lexsort((st.index[pos], np.where(cap > 0, delta, INF)))
    picks = [int(st.index[pos[j]]) for j in order if cap[j] > 0][: m.whole]
    if len(picks) < m.whole:
        raise InvalidPlacementError("no room")
    return [Grant(i, whole=True) for i in picks]


def _place_on(st: FleetState, m: GangMember, node: int) -> tuple[Grant, ...] | None:
    """Place all units of `m` on `node`, or restore the node and return None."""
    lo, hi = st.first_gpu[node], st.first_gpu[node] + len(st.nodes[node].gpus)
    saved = (
        st.mask[lo:hi].copy(),
        st.me_used[lo:hi].copy(),
        st.free_milli[lo:hi].copy(),
        st.free_mem[lo:hi].copy(),
        st.free_inst[lo:hi],
        int(st.cpu[node]),
        int(st.mem[node]),
        st.existing[lo:hi],
        st.n_free_inst[lo:hi].copy(),
    )
    grants: list[Grant] = []
    try:
        st.take_node(node, m)
        if m.kind == "whole":  # one ranking serves every unit (see _whole_units)
            grants = _whole_units(st, m, node)
            for g in grants:
                st.apply(node, m, g)
        for _ in range(0 if m.kind == "whole" else m.mig_count or 1):
            unit = _unit(st, m, node)
            if unit is None:
                raise InvalidPlacementError("no room")
            st.apply(node, m, unit)
            grants.append(unit)
    except InvalidPlacementError:
        (
            st.mask[lo:hi],
            st.me_used[lo:hi],
            st.free_milli[lo:hi],
            st.free_mem[lo:hi],
            st.free_inst[lo:hi],
            st.cpu[node],
            st.mem[node],
            st.existing[lo:hi],
            st.n_free_inst[lo:hi],
        ) = saved
        return None
    return tuple(grants)


def node_scores(st: FleetState, m: GangMember, pos: I64) -> I64:
    """Per node owning GPUs in `pos`: best single-unit cost change, INF where `m` cannot fit."""
    delta, cap = gpu_options(st, m, pos)
    nodes = st.node_of[pos]
    n_all = len(st.nodes)
    best = np.full(n_all, INF, dtype=np.int64)
    np.minimum.at(best, nodes, np.where(cap > 0, delta, INF))
    total = np.zeros(n_all, dtype=np.int64)
    np.add.at(total, nodes, np.minimum(cap, 1 << 20))
    fits = (
        (total >= (m.whole or m.mig_count or 1))
        & (st.cpu >= m.cpu_milli)
        & (st.mem >= m.memory_bytes)
    )
    return np.where(fits, best, INF)


def greedy(st: FleetState, members: Sequence[GangMember]) -> dict[str, MemberPlacement] | None:
    """Place every member or return None (the state is then partly used: pass a fresh one)."""
    order = sorted(members, key=lambda m: (-member_size(m), m.shape(), m.key))
    used = np.zeros(len(st.nodes), dtype=bool)
    out: dict[str, MemberPlacement] = {}
    all_pos = np.arange(len(st.node_of), dtype=np.int64)
    scores: I64 | None = None
    shape: object = None
    for m in order:
        if m.shape() != shape:
            shape, scores = m.shape(), node_scores(st, m, all_pos)
        assert scores is not None
        while True:
            penalty = np.where(used, 0, st.cost.node_term(1))
            ranked = scores + penalty
            ni = int(np.lexsort((np.arange(len(used)), ~used, ranked))[0])
            if ranked[ni] >= INF:
                return None
            grants = _place_on(st, m, ni)
            lo = st.first_gpu[ni]
            pos = np.arange(lo, lo + len(st.nodes[ni].gpus), dtype=np.int64)
            scores[ni] = node_scores(st, m, pos)[ni] if len(pos) else INF
            if grants is not None:
                break
            scores[ni] = INF  # the estimate said yes, the exact placement said no
        used[ni] = True
        out[m.key] = MemberPlacement(st.nodes[ni].name, grants)
    return out
