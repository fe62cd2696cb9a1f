"""Exact MIG geometry on one GPU: table-driven cases with the slice arithmetic in comments."""

from __future__ import annotations

from collections import Counter

import pytest

from packing.catalogue import get_model
from packing.errors import InvalidCountError, InvalidPlacementError, UnknownProfileError
from packing.mig import (
    MigInstance,
    check_layout,
    compute_used,
    fit_multiset,
    free_starts,
    occupancy,
    place,
    valid_layouts,
)

Mi = MigInstance
H = "H100-80GB"


@pytest.mark.parametrize(
    ("instances", "profile", "starts"),
    [
        ([], "3g.40gb", (0, 4)),
        ([Mi("1g.10gb", 3)], "3g.40gb", (4,)),  # slice 3 taken -> [0,4) blocked, [4,8) free
        ([Mi("1g.10gb", 3)], "4g.40gb", ()),  # 4g only at 0, slice 3 taken
        ([Mi("1g.10gb", 3)], "2g.20gb", (0, 4)),  # [2,4) overlaps 3; 6 never a 2g start
        ([Mi("3g.40gb", 0)], "1g.20gb", (4, 6)),
        ([Mi("1g.10gb+me", 0)], "1g.10gb+me", ()),  # one +me per GPU
        ([Mi("3g.40gb", 0), Mi("3g.40gb", 4)], "1g.10gb", ()),  # 8 of 8 slices used
        ([Mi("4g.40gb", 0), Mi("2g.20gb", 4)], "1g.10gb", (6,)),  # slice 7 unreachable for 1g
        ([Mi("4g.40gb", 0), Mi("2g.20gb", 4)], "1g.20gb", (6,)),  # [6,8) free, compute 6+1=7
        ([], "7g.80gb", (0,)),
    ],
)
def test_free_starts_table(instances: list[MigInstance], profile: str,
                           starts: tuple[int, ...]) -> None:
    assert free_starts(H, instances, profile) == starts


def test_compute_budget_blocks_even_with_free_memory() -> None:
    # 4g@0 + 2g@4 + 1g.10gb@6 = 7 compute slices; slice 7 is free memory but no compute left
    full = [Mi("4g.40gb", 0), Mi("2g.20gb", 4), Mi("1g.10gb", 6)]
    assert compute_used(H, full) == 7 and occupancy(H, full) == 0b0111_1111
    assert all(free_starts(H, full, p.name) == () for p in get_model(H).profiles)


@pytest.mark.parametrize(
    ("model", "instances", "mask"),
    [
        (H, [Mi("3g.40gb", 4)], 0b1111_0000),  # slices 4..7
        (H, [Mi("1g.20gb", 6), Mi("1g.10gb", 0)], 0b1100_0001),
        ("A100-40GB", [Mi("1g.10gb", 2)], 0b0000_1100),  # 2 slices on A100-40GB
        ("A30-24GB", [Mi("2g.12gb", 2)], 0b1100),
    ],
)
def test_occupancy_bitmask(model: str, instances: list[MigInstance], mask: int) -> None:
    assert occupancy(model, instances) == mask


@pytest.mark.parametrize(
    ("instances", "why"),
    [
        ([Mi("3g.40gb", 2)], "valid starts: [0, 4]"),
        ([Mi("4g.40gb", 0), Mi("1g.10gb", 3)], "overlaps"),
        ([Mi("1g.10gb+me", 0), Mi("1g.10gb+me", 1)], "more than 1"),
        ([Mi("1g.10gb", 7)], "valid starts"),  # 1g never at slice 7
    ],
)
def test_invalid_layouts_rejected(instances: list[MigInstance], why: str) -> None:
    with pytest.raises(InvalidPlacementError, match=why.replace("[", r"\[").replace("]", r"\]")):
        check_layout(H, instances)


def test_place_adds_or_raises() -> None:
    assert place(H, [Mi("3g.40gb", 4)], "4g.40gb", 0) == (Mi("4g.40gb", 0), Mi("3g.40gb", 4))
    with pytest.raises(InvalidPlacementError):
        place(H, [Mi("3g.40gb", 4)], "3g.40gb", 4)
    with pytest.raises(UnknownProfileError):
        place(H, [], "1g.5gb", 0)  # an A100-40GB name


@pytest.mark.parametrize(
    ("instances", "demand", "fits"),
    [
        ([], {"3g.40gb": 1, "2g.20gb": 1, "1g.10gb": 2}, True),  # all-balanced: 4+2+1+1 = 8
        ([], {"3g.40gb": 2}, True),
        ([], {"4g.40gb": 1, "3g.40gb": 1}, True),
        ([], {"4g.40gb": 2}, False),  # max 1
        ([], {"1g.10gb": 8}, False),  # 7 starts only
        ([], {"1g.20gb": 4}, True),  # 4 x 2 slices = 8, compute 4
        ([], {"2g.20gb": 3, "1g.10gb": 1}, True),  # 2g@0,2,4 + 1g@6 = 7 compute
        ([], {"2g.20gb": 3, "1g.20gb": 1}, True),  # + 1g.20gb@6 = 7 compute, 8 slices
        ([Mi("1g.10gb", 3)], {"3g.40gb": 2}, False),  # [0,4) is broken by slice 3
        ([Mi("1g.10gb", 3)], {"3g.40gb": 1, "1g.10gb": 3}, True),
        ([], {"7g.80gb": 1, "1g.10gb": 0}, True),  # zero counts are ignored
        ([], {}, True),
    ],
)
def test_fit_multiset_table(instances: list[MigInstance], demand: dict[str, int],
                            fits: bool) -> None:
    added = fit_multiset(H, instances, demand)
    assert (added is not None) == fits
    if added is not None:
        assert Counter(i.profile for i in added) == Counter(
            {k: v for k, v in demand.items() if v})
        check_layout(H, [*instances, *added])  # the result is itself valid


def test_fit_multiset_keeps_room_for_larger_profiles() -> None:
    # one 1g.10gb on an empty GPU: at 0..3 it breaks one 3g half; anywhere it breaks something;
    # the choice must leave the 4g@0 + 3g@4 or 3g options of the other half open
    added = fit_multiset(H, [], {"1g.10gb": 1})
    assert added is not None and len(added) == 1
    assert free_starts(H, added, "3g.40gb") != ()


@pytest.mark.parametrize("bad", [-1, 1.5, "2", True, None])
def test_fit_multiset_bad_counts(bad: object) -> None:
    with pytest.raises(InvalidCountError, match="1g.10gb"):
        fit_multiset(H, [], {"1g.10gb": bad})  # type: ignore[dict-item]


def test_layout_counts_match_reference_targets() -> None:
    # mig-geometry.md 5.7: 2,319 placement sets incl. empty, 239 maximal, 64 maximal multisets
    assert len(valid_layouts(H)) == 2319
    maximal = valid_layouts(H, maximal=True)
    assert len(maximal) == 239
    assert len({tuple(sorted(Counter(i.profile for i in lay).items())) for lay in maximal}) == 64
    assert () in valid_layouts(H) and () not in maximal


def test_documented_layouts_are_valid_and_maximal() -> None:
    maximal = set(valid_layouts(H, maximal=True))
    assert (Mi("4g.40gb", 0), Mi("3g.40gb", 4)) in maximal  # gpu-operator values.yaml example
    assert (Mi("3g.40gb", 0), Mi("3g.40gb", 4)) in maximal  # MIG User Guide
