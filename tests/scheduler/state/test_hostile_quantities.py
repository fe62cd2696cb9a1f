"""Resource quantities from the cluster and the wire: Kubernetes' grammar, bounded like the
apiserver bounds it, answered at once (round 9 adversarial pass)."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.state.pods import parse_pod
from scheduler.state.quantity import MAX_MILLI, MAX_QUANTITY, to_int, to_milli
from tests.builders import pod_json


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("1e3", 1000),  # decimal exponent: 1 x 10^3
        ("1E3", 1000),
        ("1Ki", 1024),  # binary SI: 2^10
        ("1E", 10**18),  # "E" alone is exa
        ("5.", 5),
        ("+2", 2),
        ("1.5Gi", 1610612736),  # 1.5 x 2^30
        ("9223372036854775807", MAX_QUANTITY),  # 2^63 - 1, the apiserver's bound
    ],
)
def test_kubernetes_quantities_read_exactly(text: str, count: int) -> None:
    assert to_int(text, "q") == count


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("1e9999999", "not a Kubernetes quantity"),  # was decimal.Overflow: a 500
        ("1e999999", "not a Kubernetes quantity"),  # was int(10^999999): a 48 s stall
        ("1e19", "finite quantity"),  # 10^19 > 2^63 - 1
        ("1_000", "not a Kubernetes quantity"),  # Python's Decimal reads it; Kubernetes not
        ("Infinity", "not a Kubernetes quantity"),
        ("NaN", "not a Kubernetes quantity"),
        ("1e3k", "not a Kubernetes quantity"),  # an exponent is the suffix: no second one
        ("-1", "finite quantity"),
        ("0.5", "whole number"),
        ("x" * 10_000, "not a Kubernetes quantity"),
    ],
)
def test_bad_quantities_are_one_line_value_errors(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why) as info:
        to_int(text, "nvidia.com/gpu")
    message = str(info.value)
    assert "\n" not in message and len(message) < 120 and "nvidia.com/gpu" in message


def test_cpu_is_held_below_the_columns_bound() -> None:
    # 9e18 cores = 9e21 milli > 2^63: the fleet index's int64 CPU column overflowed on it.
    assert to_milli("9e18", "cpu") == MAX_MILLI
    assert to_milli("100m", "cpu") == 100 and to_milli("1e-9", "cpu") == 1  # rounded up


_QUANTITY_ALPHABET = "0123456789eE.+-_ KMGTPiunmk"


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(_QUANTITY_ALPHABET, max_size=24), st.text(max_size=24),
                 st.integers(), st.floats()))  # fmt: skip
def test_any_quantity_is_an_int_in_range_or_a_value_error_at_once(value: object) -> None:
    """Invariant: whatever the text, `to_int` answers within 50 ms with an integer in
    0..2^63-1 or a ValueError (never Overflow, MemoryError or a stall)."""
    t0 = time.perf_counter()
    try:
        n = to_int(value, "q")
    except ValueError:
        pass
    else:
        assert 0 <= n <= MAX_QUANTITY
    assert time.perf_counter() - t0 < 0.05


def test_huge_gpu_quantity_in_a_pod_is_a_pod_error_naming_it() -> None:
    from scheduler.state.errors import PodParseError

    with pytest.raises(PodParseError, match="nvidia.com/gpu"):
        parse_pod(pod_json("p", {"nvidia.com/gpu": "1e9999999"}))
