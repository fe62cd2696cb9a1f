"""MIG profile catalogue: per GPU model, every profile's geometry (reference: mig-geometry.md).

Profiles are keyed by (GPU model, profile name): `1g.10gb` is a 1-memory-slice profile on
H100-80GB / A100-80GB but a 2-memory-slice profile on A100-40GB.  Models whose placements are
inferred from the H100 pattern (not read from hardware or a vendor table) carry `inferred=True`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType

from packing.errors import PackingError, UnknownGpuModelError, UnknownProfileError
from packing.smi_text import LgippRow, LgipRow, parse_lgip, parse_lgipp

__all__ = [
    "MODELS", "GpuModel", "MigProfile", "get_model", "model_from_smi", "parse_lgip", "parse_lgipp",
]


@dataclass(frozen=True)
class MigProfile:
    name: str  # e.g. "3g.40gb" (no "MIG " prefix)
    id: int  # nvidia-smi / NVML unique profile ID (per model)
    compute_slices: int
    memory_slices: int  # placement size: memory slices occupied
    max_count: int
    placements: tuple[int, ...]  # allowed first memory slices
    memory_mib: int
    media_extension: bool = False  # "+me": at most one per GPU

    def span(self, start: int) -> int:
        """Bitmask of the memory slices this profile occupies when it starts at `start`."""
        return ((1 << self.memory_slices) - 1) << start


@dataclass(frozen=True)
class GpuModel:
    key: str  # catalogue key, e.g. "H100-80GB"
    nvml_names: tuple[str, ...]  # names NVML reports, e.g. "NVIDIA H100 80GB HBM3"
    memory_mib: int
    memory_slices: int
    compute_slices: int
    profiles: tuple[MigProfile, ...]
    inferred: bool  # geometry inferred from the H100 pattern, not confirmed on hardware

    def profile(self, name: str) -> MigProfile:
        """The profile called `name` (a "MIG " prefix and a device-plugin ".me" suffix accepted)."""
        wanted = _profile_name(name)
        for p in self.profiles:
            if p.name == wanted:
                return p
        raise UnknownProfileError(self.key, name, self.profile_names)

    @property
    def profile_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.profiles)


def _profile_name(name: object) -> str:
    if not isinstance(name, str):
        return repr(name)
    n = name.strip()
    n = n.removeprefix("MIG ").removeprefix("nvidia.com/mig-")
    return n[: -len(".me")] + "+me" if n.endswith(".me") else n


# The A100/H100-family template (HW on H100): (ID, compute, memory slices, max, starts, +me).
_EIGHT_SLICE = (
    (19, 1, 1, 7, (0, 1, 2, 3, 4, 5, 6), False),
    (20, 1, 1, 1, (0, 1, 2, 3, 4, 5, 6), True),
    (15, 1, 2, 4, (0, 2, 4, 6), False),
    (14, 2, 2, 3, (0, 2, 4), False),
    (9, 3, 4, 2, (0, 4), False),
    (5, 4, 4, 1, (0,), False),
    (0, 7, 8, 1, (0,), False),
)
# A30 (DOC): 4 memory slices, 4 compute slices.
_FOUR_SLICE = (
    (14, 1, 1, 4, (0, 1, 2, 3), False),
    (21, 1, 1, 1, (0, 1, 2, 3), True),
    (5, 2, 2, 2, (0, 2), False),
    (6, 2, 2, 1, (0, 2), True),
    (0, 4, 4, 1, (0,), False),
)


def _build(
    key: str, nvml_names: tuple[str, ...], memory_mib: int, template: tuple, names: tuple[str, ...],
    mib: tuple[int, ...], inferred: bool,
) -> GpuModel:
    profiles = tuple(
        MigProfile(name=n, id=t[0], compute_slices=t[1], memory_slices=t[2], max_count=t[3],
                   placements=t[4], memory_mib=m, media_extension=t[5])
        for t, n, m in zip(template, names, mib, strict=True)
    )
    slices = 8 if template is _EIGHT_SLICE else 4
    compute = 7 if template is _EIGHT_SLICE else 4
    return GpuModel(key, nvml_names, memory_mib, slices, compute, profiles, inferred)


def _even(total_mib: int) -> tuple[int, ...]:
    """INF memory per profile: its memory slices' share of 8 (exact MiB unconfirmed; read NVML)."""
    return tuple(total_mib * t[2] // 8 for t in _EIGHT_SLICE)


_ALL = (
    # HW: nvidia-smi-mig-lgip.txt / nvml_snapshot_h100.json; total from nvidia-smi -q (81559 MiB).
    _build("H100-80GB", ("NVIDIA H100 80GB HBM3", "NVIDIA H100 PCIe", "NVIDIA H800"), 81559,
           _EIGHT_SLICE,
           ("1g.10gb", "1g.10gb+me", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"),
           (9984, 9984, 20096, 20096, 40448, 40448, 81152), inferred=False),
    # DOC: MIG User Guide -lgipp example; MiB from KEP-4815.
    _build("A100-40GB", ("NVIDIA A100-SXM4-40GB", "NVIDIA A100-PCIE-40GB"), 40960, _EIGHT_SLICE,
           ("1g.5gb", "1g.5gb+me", "1g.10gb", "2g.10gb", "3g.20gb", "4g.20gb", "7g.40gb"),
           (4864, 4864, 9856, 9856, 19968, 19968, 40192), inferred=False),
    # DOC names and geometry (same as A100-40GB); MiB from the go-nvml a100 mock.
    _build("A100-80GB", ("NVIDIA A100-SXM4-80GB", "NVIDIA A100 80GB PCIe", "NVIDIA A100-PCIE-80GB"),
           81920, _EIGHT_SLICE,
           ("1g.10gb", "1g.10gb+me", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"),
           (9856, 9856, 19968, 19968, 40192, 40192, 80384), inferred=False),
    # DOC: MIG User Guide A30 table (5.81 / 11.69 / 23.50 GiB -> MiB).
    _build("A30-24GB", ("NVIDIA A30",), 24576, _FOUR_SLICE,
           ("1g.6gb", "1g.6gb+me", "2g.12gb", "2g.12gb+me", "4g.24gb"),
           (5949, 5949, 11971, 11971, 24064), inferred=False),
    # INF geometry (H100 pattern); names DOC.
    _build("H100-94GB", ("NVIDIA H100 NVL", "NVIDIA H800 NVL"), 96256, _EIGHT_SLICE,
           ("1g.12gb", "1g.12gb+me", "1g.24gb", "2g.24gb", "3g.47gb", "4g.47gb", "7g.94gb"),
           _even(96256), inferred=True),
    # INF geometry; MiB from the go-nvml h200 mock.
    _build("H200-141GB", ("NVIDIA H200", "NVIDIA H200 NVL"), 144384, _EIGHT_SLICE,
           ("1g.18gb", "1g.18gb+me", "1g.35gb", "2g.35gb", "3g.71gb", "4g.71gb", "7g.141gb"),
           (18432, 18432, 35840, 35840, 72704, 72704, 144384), inferred=True),
    # INF geometry (3g.90gb = 4 memory slices is DOC via k8s-dra-driver-gpu partitions.go).
    _build("B200", ("NVIDIA B200",), 184320, _EIGHT_SLICE,
           ("1g.23gb", "1g.23gb+me", "1g.45gb", "2g.45gb", "3g.90gb", "4g.90gb", "7g.180gb"),
           _even(184320), inferred=True),
)

MODELS: Mapping[str, GpuModel] = MappingProxyType({m.key: m for m in _ALL})


@lru_cache(maxsize=4096)
def _norm(name: str) -> str:
    """Canonical form shared by keys, NVML names and GFD product labels."""
    n = name.strip().upper()
    n = re.sub(r"-MIG-.*$", "", n)  # GFD single strategy: "<model>-MIG-<profile>"
    n = re.sub(r"^NVIDIA[\s\-_]*", "", n)
    return re.sub(r"[\s\-_]+", "", n)


_ALIASES: dict[str, str] = {}
for _m in _ALL:
    for _n in (_m.key, *_m.nvml_names):
        _ALIASES[_norm(_n)] = _m.key


def get_model(name: str) -> GpuModel:
    """Model by key ("H100-80GB"), NVML name ("NVIDIA H100 80GB HBM3") or GFD product label."""
    if isinstance(name, GpuModel):
        return name
    if name in MODELS:  # fast path: already a key
        return MODELS[name]
    if not isinstance(name, str) or not name.strip():
        raise UnknownGpuModelError(name, MODELS)
    key = _ALIASES.get(_norm(name))
    if key is None:
        raise UnknownGpuModelError(name, MODELS)
    return MODELS[key]


def model_from_smi(
    key: str, lgip_text: str, lgipp_text: str, *, nvml_names: tuple[str, ...] = (),
    memory_mib: int = 0, inferred: bool = False, gpu: int = 0,
) -> GpuModel:
    """A catalogue entry built from real `nvidia-smi mig -lgip` and `-lgipp` output of one GPU.

    Memory per profile is `-lgip`'s GiB (2 decimals) in MiB, so it may differ from NVML's
    exact figure by up to 0.005 GiB (5 MiB); compute slices come from the "<n>g" in the name.
    """
    lgip: tuple[LgipRow, ...] = tuple(r for r in parse_lgip(lgip_text) if r.gpu == gpu)
    places: dict[int, LgippRow] = {r.id: r for r in parse_lgipp(lgipp_text) if r.gpu == gpu}
    profiles = []
    for row in lgip:
        if row.id not in places:
            raise PackingError(f"profile ID {row.id} ({row.name}) has no -lgipp placement line")
        m = re.match(r"^(\d+)g\.", row.name)
        if not m:
            raise PackingError(f"cannot read compute slices from profile name {row.name!r}")
        pl = places[row.id]
        profiles.append(MigProfile(
            name=row.name, id=row.id, compute_slices=int(m[1]), memory_slices=pl.size,
            max_count=row.total, placements=pl.starts, memory_mib=round(row.memory_gib * 1024),
            media_extension="+me" in row.name,
        ))
    slices = max(s + p.memory_slices for p in profiles for s in p.placements)
    compute = max(p.compute_slices for p in profiles)
    return GpuModel(key, nvml_names, memory_mib, slices, compute, tuple(profiles), inferred)
