"""Inputs and outputs of the gang planner (pure data, validated on construction).

A member asks for exactly one kind of GPU resource: `whole` GPUs, `mig_count` instances of
`mig_profile`, or a `milli` share of one GPU (1000 = one GPU) with `gpu_memory_mib`; plus CPU
and memory.  A node lists its GPUs: a MIG GPU carries its existing instances (each in use or
free) and whether new instances may be created (dynamic MIG); a non-MIG GPU its free milli.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from packing.catalogue import get_model
from packing.errors import InvalidCountError, PackingError
from packing.fractional import MILLI_PER_GPU
from packing.mig import MigInstance, check_layout

Status = Literal["optimal", "feasible", "greedy", "infeasible"]
Objective = Literal["fragmentation", "fewest_nodes"]


def _count(what: str, value: object, minimum: int = 0) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidCountError(what, value)


@dataclass(frozen=True)
class GangMember:
    key: str  # "namespace/name"
    whole: int = 0
    mig_profile: str | None = None
    mig_count: int = 0
    milli: int = 0
    gpu_memory_mib: int = 0
    cpu_milli: int = 0
    memory_bytes: int = 0
    gpu_models: tuple[str, ...] = ()  # allowed catalogue keys; empty = any

    def __post_init__(self) -> None:
        for name in ("whole", "mig_count", "milli", "gpu_memory_mib", "cpu_milli",
                     "memory_bytes"):
            _count(f"{self.key} {name}", getattr(self, name))
        kinds = (self.whole > 0) + (self.mig_count > 0) + (self.milli > 0)
        if kinds != 1:
            raise PackingError(f"gang member {self.key} must ask for exactly one of whole GPUs, "
                               f"MIG instances or a milli share")
        if (self.mig_count > 0) != (self.mig_profile is not None):
            raise PackingError(f"gang member {self.key}: mig_count needs a mig_profile")
        if self.milli >= MILLI_PER_GPU:
            raise PackingError(f"gang member {self.key}: milli {self.milli} is not a share "
                               f"(< {MILLI_PER_GPU}); ask for whole GPUs instead")
        for m in self.gpu_models:
            get_model(m)  # raises UnknownGpuModelError naming the alternatives

    @property
    def kind(self) -> Literal["whole", "mig", "milli"]:
        return "whole" if self.whole else "mig" if self.mig_count else "milli"

    def shape(self) -> tuple[object, ...]:
        """Members with equal shapes are interchangeable (the planner groups them)."""
        return (self.whole, self.mig_profile or "", self.mig_count, self.milli, self.gpu_memory_mib,
                self.cpu_milli, self.memory_bytes, tuple(sorted(self.gpu_models)))


@dataclass(frozen=True)
class GpuSlot:
    index: int
    model: str  # catalogue key or NVML name
    mig_enabled: bool = False
    instances: tuple[tuple[MigInstance, bool], ...] = ()  # (instance, in_use)
    dynamic: bool = True  # MIG: new instances may be created in free slices
    free_milli: int = MILLI_PER_GPU  # non-MIG
    free_memory_mib: int | None = None  # non-MIG; None = not tracked

    def __post_init__(self) -> None:
        _count("GPU index", self.index)
        m = get_model(self.model)
        object.__setattr__(self, "model", m.key)
        if self.mig_enabled:
            check_layout(m, [i for i, _ in self.instances])
        elif self.instances:
            raise PackingError(f"GPU {self.index}: MIG instances on a GPU without MIG enabled")
        if isinstance(self.free_milli, bool) or not isinstance(self.free_milli, int) \
                or not 0 <= self.free_milli <= MILLI_PER_GPU:
            raise PackingError(f"GPU {self.index}: free milli must be within 0..{MILLI_PER_GPU},"
                               f" got {self.free_milli!r}")


@dataclass(frozen=True)
class NodeSlot:
    name: str
    gpus: tuple[GpuSlot, ...]
    cpu_milli_free: int = 0
    memory_bytes_free: int = 0

    def __post_init__(self) -> None:
        _count(f"node {self.name} free CPU milli", self.cpu_milli_free)
        _count(f"node {self.name} free memory bytes", self.memory_bytes_free)
        idx = [g.index for g in self.gpus]
        if len(set(idx)) != len(idx):
            raise PackingError(f"node {self.name} lists a GPU index twice: {idx}")


@dataclass(frozen=True)
class Grant:
    """One GPU given to a member: whole, a milli share, or a MIG instance (new or existing)."""

    index: int
    whole: bool = False
    milli: int = 0
    profile: str | None = None
    start: int | None = None
    existing: bool = False  # MIG: an already created, free instance


@dataclass(frozen=True)
class MemberPlacement:
    node: str
    grants: tuple[Grant, ...]


@dataclass(frozen=True)
class GangPlan:
    status: Status
    placements: Mapping[str, MemberPlacement] = field(default_factory=dict)
    objective: int | None = None  # integer objective (see gang.py), lower is better
    reason: str = ""
    nodes_considered: int = 0
