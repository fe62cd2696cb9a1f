"""The gang planner's integer objective, shared by the greedy packer and the CP-SAT model.

Unit: 0.01 milli-GPU of expected fragmentation (SCALE = 100 per milli).  Per GPU the cost is a
table lookup on its final state: a MIG GPU's occupancy mask (packing.fragmentation's slice
measure) or a non-MIG GPU's free milli f, where the fragment is the GPU-level FGD term
sum_t p_t * f * [f < m_t] over the share mix (task shapes m_t milli with weight p_t).
objective = sum over touched GPUs of (cost after - cost before)
          + (BIG * nodes used, with objective "fewest_nodes").
BIG exceeds any possible fragmentation change of the gang, so fewer nodes always wins.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np
import numpy.typing as npt

from packing.catalogue import get_model
from packing.errors import PackingError
from packing.fractional import MILLI_PER_GPU
from packing.fragmentation import mig_frag_table
from packing.gang.types import GangMember, Objective

SCALE = 100

IntTable = npt.NDArray[np.int64]


def share_table(share_mix: Mapping[int, float]) -> IntTable:
    """cost[f] for f = 0..1000 free milli on a non-MIG GPU (see module doc)."""
    total = 0.0
    f = np.arange(MILLI_PER_GPU + 1, dtype=np.float64)
    out = np.zeros(MILLI_PER_GPU + 1, dtype=np.float64)
    for milli, w in share_mix.items():
        if isinstance(milli, bool) or not isinstance(milli, int) \
                or not 0 < milli <= MILLI_PER_GPU:
            raise PackingError(f"share mix keys are milli in 1..{MILLI_PER_GPU}, got {milli!r}")
        if not isinstance(w, int | float) or not math.isfinite(w) or w < 0:
            raise PackingError(f"share mix weight for {milli} must be a finite number >= 0, "
                               f"got {w!r}")
        out += w * np.where(f < milli, f, 0.0)
        total += w
    if total <= 0:
        raise PackingError(f"share mix has no positive weight: {dict(share_mix)!r}")
    return np.rint(out / total * SCALE).astype(np.int64)


def default_share_mix(members: Iterable[GangMember]) -> dict[int, float]:
    """The gang's own share sizes plus whole GPUs, weighted by how often they occur."""
    mix: dict[int, float] = {MILLI_PER_GPU: 1.0}
    for m in members:
        if m.milli:
            mix[m.milli] = mix.get(m.milli, 0.0) + 1.0
    return mix


class CostModel:
    """Integer cost tables per GPU model (MIG) and for non-MIG GPUs."""

    def __init__(self, members: Iterable[GangMember], objective: Objective,
                 mig_mix: Mapping[str, Mapping[str, float]] | None = None,
                 share_mix: Mapping[int, float] | None = None) -> None:
        if objective not in ("fragmentation", "fewest_nodes"):
            raise PackingError(f"unknown objective {objective!r}; known: fragmentation, "
                               f"fewest_nodes")
        mem = tuple(members)
        self.objective = objective
        self._mig_mix = {get_model(k).key: v for k, v in (mig_mix or {}).items()}
        self.share = share_table(share_mix if share_mix is not None else default_share_mix(mem))
        self._mig: dict[str, IntTable] = {}
        self.cache: dict[tuple[str, str], tuple[IntTable, IntTable]] = {}  # gang_greedy tables
        grants = sum(m.whole or m.mig_count or 1 for m in mem)
        # |change| <= 1000 milli per touched GPU, and a gang touches at most `grants` GPUs
        self.big = 2 * MILLI_PER_GPU * SCALE * grants + 1

    def mig(self, model: str) -> IntTable:
        """cost[mask] for a MIG GPU of `model`."""
        if model in self._mig:
            return self._mig[model]
        key = get_model(model).key
        if key not in self._mig:
            table = mig_frag_table(key, self._mig_mix.get(key))
            self._mig[key] = np.rint(table * SCALE).astype(np.int64)
        return self._mig[key]

    def node_term(self, used_nodes: int) -> int:
        return self.big * used_nodes if self.objective == "fewest_nodes" else 0
