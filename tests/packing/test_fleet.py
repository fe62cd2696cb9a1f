"""Vectorised MIG fit: the lookup tables agree with the scalar geometry on every valid layout."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from packing.catalogue import get_model
from packing.fleet import best_start, can_fit_multiset, can_place, fit_table, masks_of
from packing.mig import MigInstance, fit_multiset, free_starts, place, valid_layouts

H = "H100-80GB"


@pytest.mark.parametrize("key", ["H100-80GB", "A100-40GB", "A30-24GB"])
def test_tables_equal_scalar_free_starts_on_every_valid_layout(key: str) -> None:
    # The mask alone must decide fit (max counts and compute follow from geometry), except +me,
    # which takes `me_used`.  2,319 layouts x 7 profiles on H100; 76 x 5 on A30.
    m = get_model(key)
    layouts = valid_layouts(m)
    masks = masks_of(m, layouts)
    me_used = np.array([any(m.profile(i.profile).media_extension for i in lay)
                        for lay in layouts])
    for p in m.profiles:
        got = can_place(masks, m, p.name, me_used=me_used)
        want = np.array([bool(free_starts(m, lay, p.name)) for lay in layouts])
        assert (got == want).all(), p.name
        starts = best_start(masks, m, p.name, me_used=me_used)
        for lay, s in zip(layouts, starts, strict=True):
            if s >= 0:
                place(m, lay, p.name, int(s))  # raises if the chosen start is not valid


@pytest.mark.parametrize(
    ("masks", "profile", "want"),
    [
        # 0b00001000 = slice 3 used -> 3g only at 4; 0b11110000 -> 3g only at 0; full -> none
        ([0b0000_1000, 0b1111_0000, 0xFF, 0], "3g.40gb", [True, True, False, True]),
        ([0b0000_1000, 0b1111_0000, 0xFF, 0], "4g.40gb", [False, True, False, True]),
        ([0b0111_1111, 0b1011_1111], "1g.10gb", [False, True]),  # slice 7 never for 1g; 6 ok
        ([0b0011_1111], "1g.20gb", [True]),  # [6,8) free
    ],
)
def test_can_place_table(masks: list[int], profile: str, want: list[bool]) -> None:
    assert can_place(np.array(masks), H, profile).tolist() == want


def test_best_start_keeps_the_big_profiles_possible() -> None:
    # empty GPU, 1g.10gb: choosing any start breaks 7g; the pick leaves a 3g half intact
    s = int(best_start(np.array([0]), H, "1g.10gb")[0])
    assert free_starts(H, [MigInstance("1g.10gb", s)], "3g.40gb") != ()
    assert best_start(np.array([0xFF]), H, "1g.10gb").tolist() == [-1]


def test_two_dimensional_fleet_keeps_shape() -> None:
    masks = np.zeros((3, 8), dtype=np.uint16)
    masks[1, 2] = 0xFF
    out = can_place(masks, H, "7g.80gb")
    assert out.shape == (3, 8) and out.sum() == 23


@pytest.mark.parametrize("bad", [[256], [-1], [1.5]])
def test_bad_masks_rejected(bad: list[float]) -> None:
    with pytest.raises(ValueError, match="H100-80GB"):
        can_place(np.array(bad), H, "1g.10gb")


def test_fit_table_is_read_only() -> None:
    with pytest.raises(ValueError):
        fit_table(H)[0, 0] = False


_LAYOUTS = valid_layouts(H)
_NON_ME = [p.name for p in get_model(H).profiles if not p.media_extension]


@settings(max_examples=150, deadline=None)
@given(idx=st.integers(0, len(_LAYOUTS) - 1),
       demand=st.dictionaries(st.sampled_from(_NON_ME), st.integers(0, 3), max_size=3))
def test_vector_multiset_fit_equals_scalar(idx: int, demand: dict[str, int]) -> None:
    lay = _LAYOUTS[idx]
    got = bool(can_fit_multiset(masks_of(H, [lay]), H, demand)[0])
    assert got == (fit_multiset(H, lay, demand) is not None)
