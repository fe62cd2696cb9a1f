"""Volcano's `Resource`: independent scalar counters (milli-CPU, bytes, milli-units per device).

Every extended resource (`nvidia.com/gpu`, each `nvidia.com/mig-<profile>`) is a plain counter in
milli-units, 1 card = 1000 (volcano `NewResource`); no MIG geometry, no per-GPU identity.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

Res = dict[str, int]

CPU = "cpu"
MEMORY = "memory"
GPU = "nvidia.com/gpu"
MILLI = 1000  # one device = 1000 milli-units, as `Quantity.MilliValue()` gives


def mig_resource(profile: str) -> str:
    """The device plugin's resource name for a MIG profile (mixed strategy)."""
    return f"nvidia.com/mig-{profile}"


def add(a: Res, b: Mapping[str, int]) -> None:
    for k, v in b.items():
        a[k] = a.get(k, 0) + v


def sub(a: Res, b: Mapping[str, int]) -> None:
    for k, v in b.items():
        a[k] = a.get(k, 0) - v


def total(items: Iterable[Mapping[str, int]]) -> Res:
    out: Res = {}
    for r in items:
        add(out, r)
    return out


def is_empty(req: Mapping[str, int]) -> bool:
    """BestEffort: no request at all (backfill's business, skipped by allocate)."""
    return not any(v > 0 for v in req.values())
