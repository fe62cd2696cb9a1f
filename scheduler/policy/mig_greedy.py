"""Dynamic MIG placement of one or several instances, vectorised over `FleetIndex` rows.

The same greedy as `fit._choose_dynamic`: one instance at a time, on the fullest MIG GPU that
can still hold it (most occupied memory slices, lowest GPU index on ties), at the start
`packing.fleet.best_start` picks; each placed instance joins the layout before the next one.
Rows hold one GPU model (nodes with several are `slow` and go to the plugins), so a pod's
instances all have the same share of their GPU's memory slices.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from packing.fleet import best_start, can_place
from packing.fragmentation import mig_frag_table
from scheduler.policy.fleet_index import FleetIndex

Bools = npt.NDArray[np.bool_]
Floats = npt.NDArray[np.float64]


# Per row: every instance found a place; some usable MIG GPU's model offers the profile at all;
# the instances' memory slices over their GPU's (0 where no fit); the summed MIG fragmentation
# increase of the placements (0 where no fit).
PLAN = np.dtype([("fits", bool), ("supports", bool), ("share", float), ("inc", float)])


def planned(idx: FleetIndex, r: npt.NDArray[np.intp], profile: str, count: int) -> npt.NDArray[Any]:
    """`plan_dynamic` for rows `r`, memoised per (profile, count) on the index: it depends on
    each row's own columns only, so after a bind only the changed rows are planned again."""
    return idx.per_row(
        ("dyn-plan", profile, count), lambda rr: _plan_rows(idx, rr, profile, count)
    )[r]


# A row's plan, by what it reads (the GPU model of each MIG column, the occupied slices, the
# "+me" marks): most rows a bind touches hold no MIG GPU, or a layout seen before.
_ROW_PLANS: dict[tuple[object, ...], Any] = {}
_ROW_PLANS_LIMIT = 65536


def _plan_rows(
    idx: FleetIndex, r: npt.NDArray[np.intp], profile: str, count: int
) -> npt.NDArray[Any]:
    """`plan_dynamic` for rows `r`, each row's answer looked up by its own columns first."""
    models = tuple(idx.keys)
    codes, masks, me = idx.mig_code[r], idx.mig_mask[r], idx.mig_me[r]
    keys = [
        (models, profile, count, codes[i].tobytes(), masks[i].tobytes(), me[i].tobytes())
        for i in range(len(r))
    ]
    out = np.zeros(len(r), PLAN)
    todo = []
    for i, k in enumerate(keys):  # (.get: another thread may clear the memo meanwhile)
        hit = _ROW_PLANS.get(k)
        if hit is None:
            todo.append(i)
        else:
            out[i] = hit
    if todo:
        fresh = plan_dynamic(idx, r[todo], profile, count)
        out[todo] = fresh
        if len(_ROW_PLANS) + len(todo) > _ROW_PLANS_LIMIT:
            _ROW_PLANS.clear()
        for j, i in enumerate(todo):
            _ROW_PLANS[keys[i]] = fresh[j]
    return out


def plan_dynamic(
    idx: FleetIndex, r: npt.NDArray[np.intp], profile: str, count: int
) -> npt.NDArray[Any]:
    codes = idx.mig_code[r]
    masks = idx.mig_mask[r].copy()
    me = idx.mig_me[r].copy()
    n = len(r)
    at = np.arange(n)
    models = list(idx.mig_models(codes, profile))
    supports: Bools = np.zeros(n, bool)
    for sel, _, _ in models:
        supports |= sel.any(axis=1)
    fits: Bools = supports.copy()
    share = np.zeros(n)
    inc = np.zeros(n)
    for _ in range(count):
        placed: Bools = np.zeros(n, bool)
        for sel, model, p in models:
            can = sel & can_place(np.where(sel, masks, 0), model, p, me)
            used = np.where(can, np.bitwise_count(np.maximum(masks, 0)).astype(np.int16), -1)
            col = np.argmax(used, axis=1)  # fullest; argmax keeps the lowest index on ties
            here = (used[at, col] >= 0) & fits
            if not here.any():
                continue
            mask = np.where(here, masks[at, col], 0)
            start = best_start(mask, model, p).astype(np.int64)
            span = np.where(here, ((1 << p.memory_slices) - 1) << np.maximum(start, 0), 0)
            table = mig_frag_table(model)
            inc += np.where(here, table[mask | span] - table[mask], 0.0)
            share += np.where(here, p.memory_slices / model.memory_slices, 0.0)
            rows = np.flatnonzero(here)
            masks[rows, col[rows]] |= span[rows].astype(masks.dtype)
            if p.media_extension:
                me[rows, col[rows]] = True
            placed |= here
        fits &= placed
    out = np.zeros(n, PLAN)
    out["fits"], out["supports"] = fits, supports
    out["share"], out["inc"] = np.where(fits, share, 0.0), np.where(fits, inc, 0.0)
    return out
