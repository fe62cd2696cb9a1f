"""The memos of `packing.mig` answer exactly what the geometry does, for each model object.

The layout answers (`check_layout`, `free_starts`, `fit_multiset`) are memoised per model
object and layout; these tests pin what the keys must tell apart.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from packing import mig
from packing.catalogue import MODELS, GpuModel, get_model
from packing.errors import InvalidCountError, InvalidPlacementError
from packing.mig import MigInstance, check_layout, fit_multiset, free_starts, valid_layouts

models = st.sampled_from(sorted(MODELS)).map(lambda k: MODELS[k])


def test_a_bool_start_is_rejected_after_the_int_start_was_answered() -> None:
    m = get_model("H100-80GB")
    assert check_layout(m, [MigInstance("1g.10gb", 1)]) == 0b10
    with pytest.raises(InvalidPlacementError):
        check_layout(m, [MigInstance("1g.10gb", True)])  # True == 1 as a key
    assert free_starts(m, [MigInstance("1g.10gb", 1)], "7g.80gb") == ()
    with pytest.raises(InvalidPlacementError):
        free_starts(m, [MigInstance("1g.10gb", True)], "1g.10gb")


def test_an_error_raises_again_on_the_same_question() -> None:
    m = get_model("H100-80GB")
    bad = [MigInstance("3g.40gb", 0), MigInstance("4g.40gb", 0)]
    for _ in range(2):
        with pytest.raises(InvalidPlacementError):
            free_starts(m, bad, "1g.10gb")


def test_a_second_model_object_with_the_same_key_gets_its_own_answers() -> None:
    m = get_model("H100-80GB")
    layout = [MigInstance("3g.40gb", 0)]
    assert free_starts(m, layout, "3g.40gb") == (4,)
    narrow = replace(
        m,
        profiles=tuple(
            replace(p, placements=(0,)) if p.name == "3g.40gb" else p for p in m.profiles
        ),
    )
    assert free_starts(narrow, layout, "3g.40gb") == ()
    assert fit_multiset(narrow, layout, {"3g.40gb": 1}) is None
    assert fit_multiset(m, layout, {"3g.40gb": 1}) == (MigInstance("3g.40gb", 4),)


@settings(max_examples=150, deadline=None)
@given(m=models, data=st.data())
def test_memoised_answers_equal_the_geometry(m: GpuModel, data: st.DataObject) -> None:
    layout = data.draw(st.sampled_from(valid_layouts(m)))
    p = data.draw(st.sampled_from(m.profiles))
    for _ in range(2):  # the first answer computes, the second reads the memo
        assert check_layout(m, layout) == mig._check_layout(m, tuple(layout))
        assert free_starts(m, layout, p.name) == mig._free_starts(m, tuple(layout), p.name)
        assert free_starts(m, layout, p) == free_starts(m, layout, p.name)


def test_fit_multiset_asked_again_checks_a_bool_count_and_a_bool_start() -> None:
    m = get_model("H100-80GB")
    assert fit_multiset(m, [MigInstance("1g.10gb", 1)], {"1g.10gb": 1}) is not None
    with pytest.raises(InvalidCountError):
        fit_multiset(m, [MigInstance("1g.10gb", 1)], {"1g.10gb": True})
    with pytest.raises(InvalidPlacementError):
        fit_multiset(m, [MigInstance("1g.10gb", True)], {"1g.10gb": 1})


@settings(max_examples=150, deadline=None)
@given(m=models, data=st.data())
def test_fit_multiset_asked_twice_answers_alike(m: GpuModel, data: st.DataObject) -> None:
    layout = data.draw(st.sampled_from(valid_layouts(m)))
    names = [p.name for p in m.profiles]
    demand = data.draw(st.dictionaries(st.sampled_from(names), st.integers(0, 2), max_size=2))
    first = fit_multiset(m, layout, demand)
    assert fit_multiset(m, list(reversed(layout)), demand) == first
    assert fit_multiset(m, layout, demand) == first
