"""Explicit plugin registry: names -> factories, and the default profile with its weights.

Each plugin class is its own factory (kube-scheduler's `New(args)`): called with its settings
object, or with None for its defaults. `build_profile` makes every plugin of a profile from the
settings it is given, so no caller builds plugins and swaps them in by name.

Add a plugin by writing its file under `plugins/` and adding one line to FILTERS or SCORERS
(docs/extending.md). The types make mypy check each class against its Protocol: a plugin with a
batch method is registered as `Factory[BatchFilterPlugin]` / `Factory[BatchScorePlugin]`, so
its `filter_rows` / `score_rows` signature is checked too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from scheduler.policy.framework import (
    BatchFilterPlugin,
    BatchScorePlugin,
    FilterPlugin,
    Profile,
    ScorePlugin,
    TieBreakPlugin,
)
from scheduler.policy.plugins.binpack import Binpack
from scheduler.policy.plugins.consolidate import Consolidate
from scheduler.policy.plugins.cpu_fed import CpuFedArgs, CpuFedLookAhead
from scheduler.policy.plugins.cpu_fed_score import CpuFedScore
from scheduler.policy.plugins.fragmentation import FragmentationArgs, FragmentationScore
from scheduler.policy.plugins.gang import GangFilter
from scheduler.policy.plugins.gpu_fit import GpuFit
from scheduler.policy.plugins.gpu_model import GpuModelFilter
from scheduler.policy.plugins.health import HealthFilter
from scheduler.policy.plugins.load import LoadScore
from scheduler.policy.plugins.lookahead import LookAhead
from scheduler.policy.plugins.mig_reserve import MigReserveFilter
from scheduler.policy.plugins.reserve import ModelReserve
from scheduler.policy.plugins.spread import SpreadArgs, SpreadScore
from scheduler.policy.rules import HealthThresholds, LoadSettings

P = TypeVar("P", covariant=True)


@dataclass(frozen=True)
class Factory(Generic[P]):
    """How to make one plugin: `new(settings or None)`, and the settings type it accepts."""

    new: Callable[[Any], P]
    args: type | None = None  # None: the plugin takes no settings


FILTERS: dict[str, Factory[FilterPlugin]] = {
    # unresolvable first (kube-scheduler's advice)
    GpuModelFilter.name: Factory[BatchFilterPlugin](GpuModelFilter),
    # unhealthy GPUs: unresolvable, with the reasons
    HealthFilter.name: Factory[BatchFilterPlugin](HealthFilter, HealthThresholds),
    GangFilter.name: Factory[BatchFilterPlugin](GangFilter),
    GpuFit.name: Factory[BatchFilterPlugin](GpuFit),
    # dynamic MIG: the last free windows of profiles higher-priority pods ask (observed demand)
    MigReserveFilter.name: Factory[BatchFilterPlugin](MigReserveFilter),
}

SCORERS: dict[str, Factory[ScorePlugin]] = {
    Binpack.name: Factory[BatchScorePlugin](Binpack),
    # while few pods have been seen, nodes in use before idle ones (observed demand)
    Consolidate.name: Factory[BatchScorePlugin](Consolidate),
    # the GPU milli a placement leaves without CPU at the observed mix's ratio (observed demand)
    CpuFedScore.name: Factory[BatchScorePlugin](CpuFedScore),
    # exact-placement fragmentation increase
    FragmentationScore.name: Factory[BatchScorePlugin](FragmentationScore, FragmentationArgs),
    # live load where fresh; NEUTRAL where stale or missing
    LoadScore.name: Factory[BatchScorePlugin](LoadScore, LoadSettings),
    # unconstrained pods off the GPU models constrained pods need (observed demand)
    ModelReserve.name: Factory[BatchScorePlugin](ModelReserve),
    # least-used GPUs first; not in the default weights (the docs/extending.md example)
    SpreadScore.name: Factory[BatchScorePlugin](SpreadScore, SpreadArgs),
}

TIE_BREAKERS: dict[str, Factory[TieBreakPlugin]] = {
    # among the top-level nodes, the best placed for the next typical pod (observed demand)
    LookAhead.name: Factory[TieBreakPlugin](LookAhead),
    # the look-ahead plus the GPU milli a placement leaves without CPU at the mix's ratio
    CpuFedLookAhead.name: Factory[TieBreakPlugin](CpuFedLookAhead, CpuFedArgs),
}

DEFAULT_FILTERS: tuple[str, ...] = tuple(FILTERS)
# Fragmentation (FGD's measure against the pods seen so far) leads; ModelReserve at 0.3 takes up
# to 30 of its 100 levels off models that constrained pods need (as the `fgd-reserve` fill
# lead); GpuLoad keeps live headroom in the ranking (neutral where telemetry is stale, as in
# the simulators); Binpack at 0.03 only breaks near-ties towards fuller nodes; Consolidate at
# 0.06 keeps idle nodes idle while fewer than 2,000 pods have been seen (the observed mix is
# still a small sample then). Figures: benchmarks/RESULTS.md, "Leads for beating FGD" (round 5).
# CpuFed prefers placements that keep a node's GPUs fed by its CPU at the observed mix's ratio
# (RESULTS.md, "Round 8 leads"). At 1.0, level with Fragmentation, a milli of GPU left unfed
# costs about what two milli of FGD's increase cost near no change; at 0.03 it only broke
# near-ties, and every weight tried from 0.06 to 4 left less unallocated (RESULTS.md, "Round 9
# leads").
DEFAULT_WEIGHTS: dict[str, float] = {
    "Fragmentation": 1.0, "ModelReserve": 0.3, "GpuLoad": 0.3, "Binpack": 0.03,
    "Consolidate": 0.06, "CpuFed": 1.0,
}  # fmt: skip
# The largest weight a profile takes: 1e308 (or infinity, which passed `< 0`) overflowed the
# weighted sum, every score became -2^63 and every prioritize a 400 (round 10).
MAX_WEIGHT = 1e6
# Ties at the top level go to the node that leaves the cluster best placed for the next typical
# pod (RESULTS.md, "Round 6 leads"), counting the GPU capacity the placement leaves without the
# CPU to feed it at the observed mix's CPU per GPU (RESULTS.md, "Round 8 leads").
DEFAULT_TIE_BREAK: str | None = CpuFedLookAhead.name


def build_profile(
    filters: Iterable[str] | None = None,
    weights: Mapping[str, float] | None = None,
    name: str = "default",
    args: Mapping[str, object] | None = None,
    tie_break: str | None = DEFAULT_TIE_BREAK,
) -> Profile:
    """A profile from plugin names, score weights, per-plugin settings (`args`, by plugin
    name; a plugin not named there gets its defaults) and the tie-break (None: ties go to the
    caller's order). Unknown names, bad weights or settings of the wrong type raise a one-line
    ValueError."""
    if tie_break is not None and tie_break not in TIE_BREAKERS:
        known = ", ".join(TIE_BREAKERS)
        raise ValueError(f"unknown tie-break plugin {tie_break!r}; known: {known}")
    chosen = tuple(DEFAULT_FILTERS if filters is None else filters)
    w = dict(DEFAULT_WEIGHTS if weights is None else weights)
    given = dict(args or {})
    for f in chosen:
        if f not in FILTERS:
            raise ValueError(f"unknown filter plugin {f!r}; known: {', '.join(FILTERS)}")
    for s, value in w.items():
        if s not in SCORERS:
            raise ValueError(f"unknown score plugin {s!r}; known: {', '.join(SCORERS)}")
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not (0 <= value <= MAX_WEIGHT)
        ):
            raise ValueError(
                f"weight of score plugin {s!r} must be a number in 0..{MAX_WEIGHT:g}, got {value!r}"
            )
    for plugin in given:
        if plugin not in FILTERS and plugin not in SCORERS and plugin not in TIE_BREAKERS:
            known = ", ".join([*FILTERS, *SCORERS, *TIE_BREAKERS])
            raise ValueError(f"settings for unknown plugin {plugin!r}; known: {known}")
    fplugins: tuple[FilterPlugin, ...] = tuple(_make(FILTERS, f, given) for f in chosen)
    splugins: tuple[tuple[ScorePlugin, float], ...] = tuple(
        (_make(SCORERS, s, given), float(v)) for s, v in w.items() if v > 0
    )
    tplugin = None if tie_break is None else _make(TIE_BREAKERS, tie_break, given)
    return Profile(fplugins, splugins, name, tie_break=tplugin)


def _make(table: Mapping[str, Factory[P]], name: str, given: Mapping[str, object]) -> P:
    factory = table[name]
    settings = given.get(name)
    if settings is not None and (factory.args is None or not isinstance(settings, factory.args)):
        want = "no settings" if factory.args is None else factory.args.__name__
        raise ValueError(f"plugin {name!r} takes {want}, got {type(settings).__name__}")
    return factory.new(settings)


def default_profile() -> Profile:
    return build_profile()
