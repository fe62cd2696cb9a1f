"""The resource vocabulary the simulator's policies share: names and scalar counters.

A `Res` maps a resource name to an integer (milli-CPU, bytes, milli-units per device): the view a
kube-scheduler or Volcano has of a node's allocatable, where every extended resource
(`nvidia.com/gpu`, each `nvidia.com/mig-<profile>`) is a plain counter, 1 card = 1000 (Volcano's
`NewResource`, `Quantity.MilliValue()`), with no MIG geometry and no per-GPU identity.
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
