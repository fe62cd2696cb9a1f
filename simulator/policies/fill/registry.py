"""Explicit registry of the simulator's policies (no discovery, no magic).

``FILL_POLICIES``: the fill experiment's policies (`tessera simulate fgd-fill`): the FGD paper's
six baselines and Tessera's own policy core.
"""

from __future__ import annotations

from collections.abc import Callable

from simulator.policies.fill.base import FillContext, FillPolicy
from simulator.policies.fill.best_fit import BestFit
from simulator.policies.fill.dot_product import DotProduct
from simulator.policies.fill.fgd import Fgd
from simulator.policies.fill.fgd_reserve import FgdReserve
from simulator.policies.fill.gpu_clustering import GpuClustering
from simulator.policies.fill.gpu_packing import GpuPacking
from simulator.policies.fill.random_fit import RandomFit
from simulator.policies.fill.tessera_fill import TesseraFill, TesseraFillTraceMix

FILL_POLICIES: dict[str, Callable[[FillContext], FillPolicy]] = {
    "random": RandomFit,
    "dotprod": DotProduct,
    "clustering": GpuClustering,
    "packing": GpuPacking,
    "bestfit": BestFit,
    "fgd": Fgd,
    "fgd-reserve": FgdReserve,  # lead: FGD + scarce-model reserve (not the shipped profile)
    "tessera": TesseraFill,  # the shipped policy core (scheduler.policy), default profile
    "tessera-mix": TesseraFillTraceMix,  # same, fragmentation scored for the trace's mix
}


def make_fill_policy(name: str, ctx: FillContext) -> FillPolicy:
    try:
        factory = FILL_POLICIES[name]
    except KeyError:
        raise ValueError(
            f"unknown fill policy {name!r}; known: {', '.join(FILL_POLICIES)}"
        ) from None
    return factory(ctx)
