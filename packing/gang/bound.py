"""A lower bound on the gang objective, so a greedy plan that meets it needs no CP-SAT search.

The objective is a sum over GPUs of (cost after - cost before); on each GPU that telescopes into
one step per unit placed there (a share taken, a new MIG instance carved, an existing free
instance used, which costs 0).  Each step is one transition of the per-GPU cost table, so the
cheapest transition of that kind over *every* table state bounds it from below, whatever state
the fleet is in.  Summing those minima over the gang's units bounds the whole fragmentation term.
With "fewest_nodes", the node term is BIG times the fewest nodes whose free CPU, memory and GPU
units of each member shape (each node counted alone) could hold the gang at all.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from packing.catalogue import get_model
from packing.fractional import MILLI_PER_GPU
from packing.gang.greedy import INF, gpu_options, models_for, new_tables
from packing.gang.state import FleetState
from packing.gang.types import GangMember


def _unit_min(st: FleetState, m: GangMember) -> int:
    """The cheapest cost change one unit of `m` can cause on any GPU state."""
    share = st.cost.share
    if m.kind in ("whole", "milli"):
        need = MILLI_PER_GPU if m.whole else m.milli
        # free f -> f - need for every f >= need
        return int((share[: MILLI_PER_GPU + 1 - need] - share[need:]).min())
    best = 0 if bool(st.n_free_inst.any()) else INF  # a free existing instance: no change
    for key in models_for(m):
        if key not in st.models:
            continue
        md = get_model(key)
        delta = new_tables(st.cost, md, md.profile(m.mig_profile or ""))[1]
        possible = delta[delta < INF]
        if len(possible):
            best = min(best, int(possible.min()))
    return best


def _fewest(capacity: np.ndarray, demand: int) -> int:
    """Fewest nodes whose free capacity could sum to `demand` (largest first)."""
    if demand <= 0:
        return 1
    total = np.cumsum(np.sort(capacity)[::-1])
    return int(np.searchsorted(total, demand)) + 1


def lower_bound(st: FleetState, members: Sequence[GangMember]) -> int:
    """No plan of `members` on the fleet `st` has a smaller objective (see module doc)."""
    mins: dict[object, int] = {}
    frag = 0
    for m in members:
        if m.shape() not in mins:
            mins[m.shape()] = _unit_min(st, m)
        frag += (m.whole or m.mig_count or 1) * mins[m.shape()]
    if st.cost.objective != "fewest_nodes":
        return frag
    nodes = max(_fewest(st.cpu, sum(m.cpu_milli for m in members)),
                _fewest(st.mem, sum(m.memory_bytes for m in members)))
    units: dict[object, tuple[GangMember, int]] = {}
    for m in members:
        units[m.shape()] = (m, units.get(m.shape(), (m, 0))[1] + (m.whole or m.mig_count or 1))
    pos = np.arange(len(st.node_of), dtype=np.int64)
    for m, need in units.values():
        # units of this shape each node could take alone (a GPU's cap, summed over the node)
        cap = np.bincount(st.node_of, weights=gpu_options(st, m, pos)[1],
                          minlength=len(st.nodes))
        nodes = max(nodes, _fewest(cap, need))
    return frag + st.cost.node_term(nodes)


def whole_gpu_shortfall(st: FleetState, members: Sequence[GangMember]) -> str:
    """Why the gang cannot fit, judged on free whole GPUs alone, or "" when that count does not
    rule it out ("" proves nothing). A member of k whole GPUs needs k free non-MIG GPUs on one
    node, so a node with f of them takes at most f // k such members. CPU, memory, GPU models
    and MIG members are ignored: the test is necessary, never sufficient, so it only ever
    answers "infeasible" where every exact planner would."""
    need: dict[int, list[str]] = {}
    for m in members:
        if m.whole:
            need.setdefault(m.whole, []).append(m.key)
    if not need:
        return ""
    free = np.bincount(st.node_of[(~st.mig) & (st.free_milli == MILLI_PER_GPU)],
                       minlength=len(st.nodes))
    for k, keys in sorted(need.items()):
        room = int((free // k).sum())
        if room == 0:
            return f"no node has {k} free whole GPUs for gang member {keys[0]}"
        if room < len(keys):
            return (f"{len(keys)} members ({keys[0]}, ...) need {k} whole GPUs each; the nodes "
                    f"have room for {room}")
    total = sum(k * len(keys) for k, keys in need.items())
    if total > int(free.sum()):
        return f"the gang needs {total} free whole GPUs; {int(free.sum())} are free"
    return ""
