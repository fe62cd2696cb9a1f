"""Exact MIG geometry of one GPU: occupancy, allowed starts, placement and multiset fit.

A GPU's state is its tuple of `MigInstance(profile, start)`.  Rules enforced (mig-geometry.md
section 5): memory-slice intervals disjoint; each profile only at its listed starts; per-profile
max count; at most one media-extension ("+me") instance per GPU; compute slices within budget.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from packing.catalogue import GpuModel, MigProfile, get_model
from packing.errors import InvalidCountError, InvalidPlacementError

__all__ = [
    "MigInstance",
    "check_layout",
    "compute_used",
    "fit_multiset",
    "free_starts",
    "occupancy",
    "place",
    "valid_layouts",
    "validate_demand",
]


@dataclass(frozen=True, order=True)
class MigInstance:
    profile: str
    start: int


ModelLike = GpuModel | str
ProfileLike = MigProfile | str


def _model(model: ModelLike) -> GpuModel:
    return model if isinstance(model, GpuModel) else get_model(model)


# Memos of pure answers per GPU model, keyed by the model object's id (a GpuModel's own hash
# walks all its profiles on every call); each value keeps its model alive, so no id is reused
# while its entries exist. Layouts are memoised only with str profiles and int starts (True
# and 1.0 equal 1 as keys but are invalid starts); errors are never memoised: they raise again.
_MEMO_LIMIT = 65536
_PROFILES: dict[tuple[int, object], tuple[GpuModel, MigProfile]] = {}
_MASKS: dict[tuple[int, tuple[MigInstance, ...]], tuple[GpuModel, int]] = {}
_STARTS: dict[tuple[int, tuple[MigInstance, ...], str], tuple[GpuModel, tuple[int, ...]]] = {}
_FITS: dict[
    tuple[int, tuple[MigInstance, ...], tuple[tuple[str, int], ...]],
    tuple[GpuModel, tuple[MigInstance, ...] | None],
] = {}
_ASKED: dict[tuple[int, tuple[MigInstance, ...], tuple[tuple[object, object], ...]], Any] = {}


def _remember(memo: dict[Any, Any], key: object, value: object) -> None:
    if len(memo) >= _MEMO_LIMIT:
        memo.clear()
    memo[key] = value


def _plain(instances: tuple[MigInstance, ...]) -> bool:
    return all(type(i.start) is int and type(i.profile) is str for i in instances)


def _profile(model: GpuModel, profile: ProfileLike) -> MigProfile:
    name = profile.name if isinstance(profile, MigProfile) else profile
    if not isinstance(name, str):
        return model.profile(name)  # raises the catalogue's error for it
    key = (id(model), name)
    hit = _PROFILES.get(key)
    if hit is None:
        hit = (model, model.profile(name))
        _remember(_PROFILES, key, hit)
    return hit[1]


def _sorted(instances: Iterable[MigInstance]) -> tuple[MigInstance, ...]:
    return tuple(sorted(instances, key=lambda i: (i.start, i.profile)))


def check_layout(model: ModelLike, instances: Iterable[MigInstance]) -> int:
    """Validate a GPU's instances against every rule; return the occupied memory-slice bitmask."""
    m = _model(model)
    insts = tuple(instances)
    if not _plain(insts):
        return _check_layout(m, insts)
    key = (id(m), insts)
    hit = _MASKS.get(key)
    if hit is None:
        hit = (m, _check_layout(m, insts))
        _remember(_MASKS, key, hit)
    return hit[1]


def _check_layout(m: GpuModel, instances: tuple[MigInstance, ...]) -> int:
    mask = compute = me = 0
    counts: dict[str, int] = {}
    for inst in instances:
        p = _profile(m, inst.profile)
        if (
            isinstance(inst.start, bool)
            or not isinstance(inst.start, int)
            or inst.start not in p.placements
        ):
            raise InvalidPlacementError(
                f"{p.name} cannot start at memory slice {inst.start!r} on {m.key}; "
                f"valid starts: {list(p.placements)}"
            )
        span = p.span(inst.start)
        if mask & span:
            raise InvalidPlacementError(
                f"{p.name}@{inst.start} overlaps an occupied memory slice on {m.key}"
            )
        mask |= span
        counts[p.name] = counts.get(p.name, 0) + 1
        if counts[p.name] > p.max_count:
            raise InvalidPlacementError(
                f"more than {p.max_count} {p.name} instance(s) on one {m.key}"
            )
        me += p.media_extension
        if me > 1:
            raise InvalidPlacementError(f"more than one media-extension instance on one {m.key}")
        compute += p.compute_slices
        if compute > m.compute_slices:
            raise InvalidPlacementError(
                f"instances need {compute} compute slices; {m.key} has {m.compute_slices}"
            )
    return mask


def occupancy(model: ModelLike, instances: Iterable[MigInstance]) -> int:
    """Occupied memory slices as a bitmask (bit i = slice i); validates the layout."""
    return check_layout(model, instances)


def compute_used(model: ModelLike, instances: Iterable[MigInstance]) -> int:
    m = _model(model)
    return sum(_profile(m, i.profile).compute_slices for i in instances)


def _can_add(m: GpuModel, instances: tuple[MigInstance, ...], mask: int, p: MigProfile) -> bool:
    """Whether `p` passes the count, +me and compute rules (memory overlap checked per start)."""
    if sum(1 for i in instances if i.profile == p.name) >= p.max_count:
        return False
    if p.media_extension and any(_profile(m, i.profile).media_extension for i in instances):
        return False
    return compute_used(m, instances) + p.compute_slices <= m.compute_slices


def free_starts(
    model: ModelLike, instances: Iterable[MigInstance], profile: ProfileLike
) -> tuple[int, ...]:
    """Starts at which `profile` may be created now on a GPU holding `instances`."""
    m = _model(model)
    insts = tuple(instances)
    name = profile.name if isinstance(profile, MigProfile) else profile
    if not isinstance(name, str) or not _plain(insts):
        return _free_starts(m, insts, profile)
    key = (id(m), insts, name)
    hit = _STARTS.get(key)
    if hit is None:
        hit = (m, _free_starts(m, insts, profile))
        _remember(_STARTS, key, hit)
    return hit[1]


def _free_starts(
    m: GpuModel, insts: tuple[MigInstance, ...], profile: ProfileLike
) -> tuple[int, ...]:
    p = _profile(m, profile)
    mask = check_layout(m, insts)
    if not _can_add(m, insts, mask, p):
        return ()
    return tuple(s for s in p.placements if not mask & p.span(s))


def place(
    model: ModelLike, instances: Iterable[MigInstance], profile: ProfileLike, start: int
) -> tuple[MigInstance, ...]:
    """The instances with `profile@start` added; InvalidPlacementError if it cannot go there."""
    m = _model(model)
    p = _profile(m, profile)
    new = (*tuple(instances), MigInstance(p.name, start))
    check_layout(m, new)
    return _sorted(new)


def validate_demand(model: ModelLike, demand: Mapping[str, int]) -> dict[str, int]:
    """Demand {profile: count} with canonical profile names; raises on bad profiles or counts."""
    m = _model(model)
    out: dict[str, int] = {}
    for name, count in demand.items():
        p = _profile(m, name)
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise InvalidCountError(f"profile {p.name}", count)
        out[p.name] = out.get(p.name, 0) + count
    return out


def fit_multiset(
    model: ModelLike, instances: Iterable[MigInstance], demand: Mapping[str, int]
) -> tuple[MigInstance, ...] | None:
    """New instances that add `demand` to the GPU, or None if impossible.

    Among all completions, the one leaving the most (profile, start) options open is chosen
    (ties: lowest starts), so later requests keep the most room.
    """
    m = _model(model)
    raw = tuple(instances)
    asked = tuple(demand.items())
    quick = (id(m), raw, asked)  # the question as asked: no sorting or validating again
    plain = _plain(raw) and all(type(k) is str and type(v) is int for k, v in asked)
    if plain:
        hit = _ASKED.get(quick)
        if hit is not None:
            return hit[1]
    insts = _sorted(raw)
    check_layout(m, insts)
    want = validate_demand(m, demand)
    key = tuple(sorted((k, v) for k, v in want.items() if v))
    memo = (id(m), insts, key)
    hit = _FITS.get(memo)
    if hit is None:
        hit = (m, _fit(m, insts, key))
        _remember(_FITS, memo, hit)
    if plain:
        _remember(_ASKED, quick, hit)
    return hit[1]


def _fit(
    m: GpuModel, insts: tuple[MigInstance, ...], want: tuple[tuple[str, int], ...]
) -> tuple[MigInstance, ...] | None:
    todo = sorted(
        (m.profile(n) for n, c in want for _ in range(c)),
        key=lambda p: (-p.memory_slices, -p.compute_slices, p.name),
    )
    free_mem = m.memory_slices - bin(check_layout(m, insts)).count("1")
    if sum(p.memory_slices for p in todo) > free_mem:
        return None
    best: tuple[int, tuple[MigInstance, ...]] | None = None

    def options_left(layout: tuple[MigInstance, ...]) -> int:
        return sum(len(free_starts(m, layout, p)) for p in m.profiles)

    def dfs(
        i: int, layout: tuple[MigInstance, ...], added: tuple[MigInstance, ...], min_start: int
    ) -> None:
        nonlocal best
        if i == len(todo):
            score = options_left(layout)
            cand = (score, _sorted(added))
            if best is None or score > best[0] or (score == best[0] and cand[1] < best[1]):
                best = cand
            return
        p = todo[i]
        for s in free_starts(m, layout, p):
            if s < min_start:
                continue  # identical profiles go in increasing start order (no permutations)
            inst = MigInstance(p.name, s)
            nxt = todo[i + 1] if i + 1 < len(todo) else None
            dfs(
                i + 1,
                _sorted((*layout, inst)),
                (*added, inst),
                s + 1 if nxt is not None and nxt.name == p.name else 0,
            )

    dfs(0, insts, (), 0)
    return None if best is None else best[1]


def valid_layouts(model: ModelLike, maximal: bool = False) -> tuple[tuple[MigInstance, ...], ...]:
    """Every valid set of instances on an empty GPU (the empty set included unless `maximal`).

    `maximal` keeps only sets to which no further instance can be added.
    """
    m = _model(model)
    return _layouts(m, maximal)


@lru_cache(maxsize=32)
def _layouts(m: GpuModel, maximal: bool) -> tuple[tuple[MigInstance, ...], ...]:
    options = [(p, s) for p in m.profiles for s in p.placements]
    found: list[tuple[MigInstance, ...]] = []

    def dfs(i: int, layout: tuple[MigInstance, ...], mask: int) -> None:
        found.append(layout)
        for j in range(i, len(options)):
            p, s = options[j]
            if mask & p.span(s) or not _can_add(m, layout, mask, p):
                continue
            dfs(j + 1, (*layout, MigInstance(p.name, s)), mask | p.span(s))

    dfs(0, (), 0)
    out = [_sorted(lay) for lay in found]
    if maximal:
        out = [lay for lay in out if not any(free_starts(m, lay, p) for p in m.profiles)]
    return tuple(sorted(out, key=lambda lay: [(i.start, i.profile) for i in lay]))
