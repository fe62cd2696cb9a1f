"""The openb trace family, generated from the default list (the variant lists are not shipped).

The FGD paper ran 16 variants of ``openb_pod_list_default`` (Figs. 11-14); the published lists
"are sampled from the default one", the gpuspec lists "add GPU-type constraints". This module
makes a list of each family from the default trace, given a percentage and a seed. Pod classes:
CPU-only (``num_gpu == 0``), GPU-sharing (one GPU, ``gpu_milli < 1000``), multi-GPU
(``num_gpu > 1``), and the rest (one whole GPU).

- ``cpuXYZ`` (XYZ / 10 %): CPU-only pods are that share of all pods, by count
  (default: 1,088 of 8,152 = 13.3 %).
- ``gpushareX``: GPU-sharing pods ask for X % of the list's GPU request
  (default: 1,732 of 6,087 GPUs = 28.5 %).
- ``multigpuX``: multi-GPU pods ask for X % of the list's GPU request (default: 444 GPUs,
  7.3 %); written in the 5-column form, as published.
- ``gpuspecX``: X % of the GPU pods, chosen uniformly, get a GPU-type constraint drawn from
  ``SPEC_MIX`` (the other classes are untouched).

For the first three the class grows or shrinks to hit the share while every other pod stays:
surplus class pods are removed uniformly at random; missing ones are copies of class pods drawn
uniformly with replacement (named ``<pod>-v<k>``), stopping at the draw that lands nearest the
target. At 100 % every pod of the measured set outside the class is removed. The gpushare and
multigpu lists then get the same treatment for CPU-only pods, back to the default's count
share, so each family moves one dimension only.

Why these measures: they put the default list where the paper's own results put it. BestFit's
published median on the default (7.09 % unallocated) interpolates between cpu100 (6.72) and
cpu200 (7.85) at 13.3 %, the default's CPU-only count share; between the gpushare and
multigpu points at the default's GPU-request shares (28.5 %, 7.3 %), not at its count shares
(43.6 %, 1.1 %: gpushare40 is worse than the default, which a count share of 40 < 43.6 would
not explain). The published multigpu50 list asks for 11,359 GPUs; keeping every other pod and
adding multi-GPU pods to half the request gives 11,286. ``benchmarks/RESULTS.md`` records how
near our baselines land to the paper's on each generated variant.

``SPEC_MIX``: constraint values and frequencies counted in two stretches (~440 GPU pods, 148
constrained) of the published ``openb_pod_list_gpuspec33`` list, rounded. T4 dominates although
T4 is 14 % of the GPUs; that scarcity is what makes the gpuspec family hard.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from simulator.traces.openb import POD_HEADER_5, POD_HEADER_11, OpenbPod

SPEC_MIX: tuple[tuple[str, float], ...] = (
    ("T4", 0.48),
    ("V100M16|V100M32", 0.14),
    ("G2", 0.12),
    ("P100", 0.11),
    ("P100|V100M16|V100M32", 0.07),
    ("G2|P100|T4|V100M16|V100M32", 0.03),
    ("A10|G2|T4|V100M16|V100M32", 0.02),
    ("G3", 0.02),
    ("V100M32", 0.01),
)
FAMILIES = ("cpu", "gpushare", "multigpu", "gpuspec")
# The 16 variants with published results (fgd-expected-results), in the paper's order.
PUBLISHED = (
    "cpu050", "cpu100", "cpu200", "cpu250",
    "gpushare40", "gpushare60", "gpushare80", "gpushare100",
    "multigpu20", "multigpu30", "multigpu40", "multigpu50",
    "gpuspec10", "gpuspec20", "gpuspec25", "gpuspec33",
)  # fmt: skip
# ASCII digits, at most 4: '\d' took 'cpu\u0665\u0660' and a 5,000-digit share failed in int()
# with Python's digit-limit message, naming no variant
_NAME = re.compile(r"(?:openb_pod_list_)?(cpu|gpushare|multigpu|gpuspec)([0-9]{1,4})")


def parse_variant(name: str) -> tuple[str, float]:
    """``"gpushare40"`` -> ("gpushare", 40.0); ``"cpu050"`` -> ("cpu", 5.0) (the cpu family
    counts tenths of a percent, as the published names do)."""
    m = _NAME.fullmatch(name.strip())
    if m is None:
        raise ValueError(
            f"unknown trace variant {name[:60]!r}; expected cpuNNN, gpushareN, multigpuN or "
            "gpuspecN"
        )
    family, digits = m.group(1), m.group(2)
    pct = int(digits) / 10 if family == "cpu" else float(int(digits))
    if not 0 <= pct <= 100:
        raise ValueError(f"trace variant {name!r}: the share must be 0..100 %, got {pct:g}")
    return family, pct


def is_share(p: OpenbPod) -> bool:
    return p.num_gpu == 1 and p.gpu_milli < 1000


def is_multi(p: OpenbPod) -> bool:
    return p.num_gpu > 1


def is_cpu_only(p: OpenbPod) -> bool:
    return p.num_gpu == 0


def _gpu(p: OpenbPod) -> float:
    return float(p.total_gpu_milli)


def _one(p: OpenbPod) -> float:
    return 1.0


def _reshare(
    pods: Sequence[OpenbPod],
    in_class: Callable[[OpenbPod], bool],
    in_set: Callable[[OpenbPod], bool],
    measure: Callable[[OpenbPod], float],
    share: float,
    rng: np.random.Generator,
) -> list[OpenbPod]:
    """Grow or shrink the class so its measure is ``share`` of the measured set's total."""
    members = [i for i, p in enumerate(pods) if in_class(p)]
    have = sum(measure(pods[i]) for i in members)
    rest = sum(measure(p) for p in pods if in_set(p) and not in_class(p))
    if share >= 1.0:
        return [p for p in pods if in_class(p) or not in_set(p)]
    want = share * rest / (1.0 - share)
    if want <= have:
        drop: set[int] = set()
        for i in rng.permutation(members):
            if abs(have - measure(pods[i]) - want) > abs(have - want):
                break
            drop.add(int(i))
            have -= measure(pods[i])
        return [p for i, p in enumerate(pods) if i not in drop]
    if not members:
        raise ValueError("the trace has no pod of this class to sample from")
    out = list(pods)
    copies: dict[str, int] = {}
    while True:
        src = pods[members[int(rng.integers(len(members)))]]
        if abs(have + measure(src) - want) >= abs(have - want):
            return out
        copies[src.name] = copies.get(src.name, 0) + 1
        out.append(replace(src, name=f"{src.name}-v{copies[src.name]}"))
        have += measure(src)


def _constrain(pods: Sequence[OpenbPod], pct: float, rng: np.random.Generator) -> list[OpenbPod]:
    gpu = [i for i, p in enumerate(pods) if p.num_gpu > 0]
    chosen = rng.permutation(gpu)[: round(pct / 100 * len(gpu))]
    specs = [s for s, _ in SPEC_MIX]
    weights = np.array([w for _, w in SPEC_MIX])
    drawn = rng.choice(len(specs), size=len(chosen), p=weights / weights.sum())
    spec_of = {int(i): specs[int(k)] for i, k in zip(chosen, drawn, strict=True)}
    return [replace(p, gpu_spec=spec_of[i]) if i in spec_of else p for i, p in enumerate(pods)]


def make_variant(pods: Sequence[OpenbPod], name: str, seed: int = 0) -> list[OpenbPod]:
    """The variant ``name`` (e.g. ``gpuspec33``) of ``pods``; the same seed, the same list."""
    family, pct = parse_variant(name)
    rng = np.random.default_rng(seed)
    base = sorted(pods, key=lambda p: p.name)
    share = pct / 100
    if family == "cpu":
        return _reshare(base, is_cpu_only, lambda p: True, _one, share, rng)
    if family in ("gpushare", "multigpu"):
        in_class = is_share if family == "gpushare" else is_multi
        out = _reshare(base, in_class, lambda p: p.num_gpu > 0, _gpu, share, rng)
        # One dimension at a time: CPU-only pods keep the default's count share.
        cpu_share = sum(map(is_cpu_only, base)) / len(base)
        out = _reshare(out, is_cpu_only, lambda p: True, _one, cpu_share, rng)
        if family == "gpushare":
            return out
        return [OpenbPod(p.name, p.cpu_milli, p.memory_mib, p.num_gpu, p.gpu_milli) for p in out]
    return _constrain(base, pct, rng)


def write_pod_list(path: str | Path, pods: Sequence[OpenbPod], *, five_columns: bool) -> None:
    """Write pods in the openb CSV form the loader reads (``load_openb_pods``)."""
    header = POD_HEADER_5 if five_columns else POD_HEADER_11
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        for p in pods:
            row = [p.name, p.cpu_milli, p.memory_mib, p.num_gpu, p.gpu_milli]
            if not five_columns:
                times = (p.creation_time, p.deletion_time, p.scheduled_time)
                row += [p.gpu_spec, p.qos, p.pod_phase]
                row += ["" if t is None else int(t) for t in times]
            w.writerow(row)
