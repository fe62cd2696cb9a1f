"""MIG expected fragmentation: hand-checked cases (milli = slices * 1000 / 8) and properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from packing.catalogue import MODELS
from packing.errors import InvalidPlacementError, PackingError, UnknownProfileError
from packing.fgd import FragTable, TargetWorkload, TaskShape
from packing.fleet import masks_of
from packing.fragmentation import (
    FractionalCandidate,
    MigCandidate,
    fragmentation_increase,
    mig_fragmentation,
    mig_fragmentation_fleet,
    mig_fragmentation_increase,
    normalise_mix,
    profile_fragment_slices,
)
from packing.mig import MigInstance as Mi
from packing.mig import free_starts, valid_layouts

H = "H100-80GB"


@pytest.mark.parametrize(
    ("mask", "profile", "slices"),
    [
        (0b0000_1000, "3g.40gb", 3),  # slice 3 used: 0,1,2 can no longer host a 3g
        (0b0000_1000, "7g.80gb", 7),  # all 7 free slices lost to 7g
        (0b0000_1000, "1g.10gb", 0),  # 1g fits every free reachable slice (7 is never 1g's)
        (0b0100_0000, "1g.20gb", 1),  # slice 6 used: slice 7 (only via 1g.20gb@6) is lost
        (0b0000_0000, "4g.40gb", 0),  # empty GPU: nothing lost; 4..7 are never 4g's
        (0b0001_0000, "4g.40gb", 0),  # 4g@0 still free
        (0b0000_0001, "4g.40gb", 3),  # 4g@0 broken: slices 1..3 lost (4..7 never reachable)
    ],
)
def test_fragment_slices_table(mask: int, profile: str, slices: int) -> None:
    assert profile_fragment_slices(H, mask, profile) == slices


def test_expected_fragmentation_hand_checked() -> None:
    only_3g = {"3g.40gb": 1.0}
    # slice 3 used -> 3 lost slices for 3g -> 3 * 1000 / 8 = 375 milli
    assert mig_fragmentation(H, [Mi("1g.10gb", 3)], only_3g) == pytest.approx(375.0)
    # half 3g, half 7g: 0.5 * 3 + 0.5 * 7 = 5 slices -> 625 milli
    assert mig_fragmentation(H, [Mi("1g.10gb", 3)], {"3g.40gb": 1, "7g.80gb": 1}) == \
        pytest.approx(625.0)
    # 4g@0 + 2g@4 + 1g@6: slice 7 lost for 1g.20gb, 3g, 7g (3 of 6 uniform profiles) -> 62.5
    assert mig_fragmentation(H, [Mi("4g.40gb", 0), Mi("2g.20gb", 4), Mi("1g.10gb", 6)]) == \
        pytest.approx(3 / 6 * 125)


def test_increase_prefers_filling_a_broken_half() -> None:
    # slice 3 used; a new 1g.10gb inside the broken half [0,4) costs less than one at 4..6
    base = [Mi("1g.10gb", 3)]
    inside = mig_fragmentation_increase(H, base, "1g.10gb", 0, {"3g.40gb": 1})
    outside = mig_fragmentation_increase(H, base, "1g.10gb", 4, {"3g.40gb": 1})
    assert inside == pytest.approx(-125.0)  # slice 0 stops counting as lost: 3 -> 2 slices
    assert outside == pytest.approx(3 * 125.0)  # breaks [4,8): 3 more lost slices
    with pytest.raises(InvalidPlacementError):
        mig_fragmentation_increase(H, base, "1g.10gb", 3)


@pytest.mark.parametrize(
    ("mix", "err"),
    [
        ({"3g.40gb": -1}, PackingError),
        ({"3g.40gb": float("nan")}, PackingError),
        ({"3g.40gb": 0}, PackingError),
        ({"9g.99gb": 1}, UnknownProfileError),
        ({"3g.40gb": "1"}, PackingError),
    ],
)
def test_bad_mix(mix: dict[str, float], err: type[Exception]) -> None:
    with pytest.raises(err):
        normalise_mix(H, mix)


_LAYOUTS = valid_layouts(H)


def vec_mask(lay: tuple[Mi, ...]) -> int:
    return int(masks_of(H, [lay])[0])
_PROFILES = [p.name for p in MODELS[H].profiles]


@settings(max_examples=200, deadline=None)
@given(idx=st.integers(0, len(_LAYOUTS) - 1),
       weights=st.lists(st.floats(0, 10), min_size=len(_PROFILES), max_size=len(_PROFILES))
       .filter(lambda w: sum(w) > 0))
def test_fragmentation_bounded_by_free_capacity(idx: int, weights: list[float]) -> None:
    # 0 <= frag <= free slices (as milli); a profile that still fits somewhere loses no slice it
    # could use there; the fleet table equals the scalar value
    lay = _LAYOUTS[idx]
    mix = dict(zip(_PROFILES, weights, strict=True))
    f = mig_fragmentation(H, lay, mix)
    free = 8 - sum(MODELS[H].profile(i.profile).memory_slices for i in lay)
    assert -1e-9 <= f <= free * 125 + 1e-9
    vec = mig_fragmentation_fleet(masks_of(H, [lay]), H, mix)
    assert vec[0] == pytest.approx(f)
    for p in _PROFILES:
        if free_starts(H, lay, p):  # p still fits: it has a free placement, so not all is lost
            assert profile_fragment_slices(H, int(vec_mask(lay)), p) < free


def test_full_and_empty_gpu_have_no_fragmentation() -> None:
    assert mig_fragmentation(H, []) == 0.0
    assert mig_fragmentation(H, [Mi("7g.80gb", 0)]) == 0.0
    assert mig_fragmentation_fleet(np.array([0, 0xFF]), H).tolist() == [0.0, 0.0]


def test_dispatch_mig_and_fractional() -> None:
    mig = MigCandidate("H100-80GB", (Mi("1g.10gb", 3),), "1g.10gb", 4)
    assert fragmentation_increase(mig, {"3g.40gb": 1}) == pytest.approx(375.0)  # see above
    # FGD: one shape, 1 GPU x 500 milli, 0 CPU, weight 1.  Node with GPUs [1000, 1000]:
    # before, both GPUs usable -> frag 0.  Put 600 on GPU 0: 400 left < 500 -> 400 is fragment.
    table = FragTable(TargetWorkload((TaskShape(0, 500, 1),), (1.0,)), ["G"])
    frac = FractionalCandidate(table, (1000, 1000), 0, "G", (0,), 600)
    assert fragmentation_increase(frac) == pytest.approx(400.0)
    with pytest.raises(PackingError, match="not a placement candidate"):
        fragmentation_increase("3g.40gb@0")  # type: ignore[arg-type]
