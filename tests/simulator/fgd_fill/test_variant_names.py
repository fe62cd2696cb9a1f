"""Variant names a planner types for the fill experiment: refused on one line naming the
variant, never a share read from non-ASCII digits or Python's digit-limit message."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.fgd_fill.variants import FAMILIES, parse_variant


@pytest.mark.parametrize(
    "bad",
    ["cpu\u0665\u0660", "gpushare\u0664\u0660", "cpu" + "1" * 5000, "cpu050x"],
)
def test_a_name_with_odd_digits_is_refused_naming_the_variant(bad: str) -> None:
    """'cpu٥٠' read as cpu 5 %; 5,000 digits raised 'Exceeds the limit (4300 digits)'."""
    with pytest.raises(ValueError, match="unknown trace variant") as err:
        parse_variant(bad)
    assert "\n" not in str(err.value) and len(str(err.value)) < 200


@given(st.sampled_from(FAMILIES), st.text(max_size=8))
def test_any_suffix_parses_to_a_share_in_range_or_is_refused(family: str, tail: str) -> None:
    try:
        fam, pct = parse_variant(family + tail)
    except ValueError as exc:
        assert "variant" in str(exc) and "\n" not in str(exc)
        return
    assert fam == family and 0 <= pct <= 100 and tail.strip().isascii()
