"""`packing.errors.echo`: the bad value in an error message, cut to a width."""

from hypothesis import given
from hypothesis import strategies as st

from packing.errors import echo


@given(st.one_of(st.text(), st.integers(), st.floats(allow_nan=False), st.none()),
       st.integers(4, 200))  # fmt: skip
def test_echo_is_the_repr_when_it_fits_and_a_marked_prefix_of_it_otherwise(value, width):
    text, got = repr(value), echo(value, width)
    if len(text) <= width:
        assert got == text
    else:  # width - 3 characters of the repr, then "..." (exactly `width` in all)
        assert got == text[: width - 3] + "..." and len(got) == width


def test_the_default_width_is_60_and_the_scheduler_messages_use_40():
    # repr("x" * 100) is 102 characters: 57 + "..." = 60; 37 + "..." = 40
    assert echo("x" * 100) == "'" + "x" * 56 + "..."
    assert len(echo("x" * 100, 40)) == 40
