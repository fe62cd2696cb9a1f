"""Turn the gang model's per-shape counts back into per-member grants (no solver needed).

The model says how many members of each shape go to each node and which GPU units (whole GPUs,
shares, new MIG instances at a start, existing free instances) that shape uses there; members
of a shape are interchangeable, so they take those units in key order.
"""

from __future__ import annotations

from collections.abc import Mapping

from packing.catalogue import get_model
from packing.gang.state import FleetState
from packing.gang.types import GangMember, Grant, MemberPlacement

Classes = dict[tuple[object, ...], list[GangMember]]


def decode(st: FleetState, classes: Classes, x: Mapping[tuple[object, int], int],
           y: Mapping[tuple[object, int], int], z: Mapping[tuple[object, int], list[int]],
           e: Mapping[tuple[object, int], int]) -> dict[str, MemberPlacement]:
    """x: members per (shape, node); y: whole GPUs or shares per (shape, GPU position);
    z: starts of new MIG instances per (shape, GPU); e: existing free instances used."""
    out: dict[str, MemberPlacement] = {}
    taken: dict[int, set[tuple[str, int]]] = {}  # existing instances handed out, per GPU
    for c, members in classes.items():
        queue = list(members)
        m0 = members[0]
        need = m0.whole or m0.mig_count or 1
        for ni in sorted({n for (cc, n) in x if cc == c}):
            count = x[c, ni]
            if not count:
                continue
            lo = st.first_gpu[ni]
            units: list[Grant] = []
            for p in range(lo, lo + len(st.nodes[ni].gpus)):
                idx = int(st.index[p])
                units += [Grant(idx, whole=True) if m0.whole else Grant(idx, milli=m0.milli)
                          for _ in range(y.get((c, p), 0))]
                if m0.mig_count and ((c, p) in z or e.get((c, p), 0)):
                    name = get_model(st.models[st.model_id[p]]).profile(m0.mig_profile or "").name
                    units += [Grant(idx, profile=name, start=s) for s in sorted(z.get((c, p), []))]
                    free = sorted(s for prof, s in st.free_inst[p] - taken.get(p, set())
                                  if prof == name)
                    for s in free[: e.get((c, p), 0)]:
                        taken.setdefault(p, set()).add((name, s))
                        units.append(Grant(idx, profile=name, start=s, existing=True))
            for k in range(count):
                m = queue.pop(0)
                out[m.key] = MemberPlacement(st.nodes[ni].name,
                                             tuple(units[k * need:(k + 1) * need]))
    return out
