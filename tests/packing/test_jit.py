"""packing.jit: a registered kernel compiles, answers what its Python source does, and `warm`
compiles every kernel of the modules imported."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from packing import jit


def _sample() -> tuple[np.ndarray, float]:
    return np.zeros(3), 1.0


@jit.kernel(_sample)
def _scaled_sum(a: np.ndarray, k: float) -> float:
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * k
    return s


@given(hnp.arrays(np.float64, st.integers(0, 20), elements=st.floats(-1e6, 1e6)),
       st.floats(-10, 10))  # fmt: skip
def test_a_kernel_answers_what_its_python_source_does(a: np.ndarray, k: float) -> None:
    expected = 0.0
    for x in a.tolist():  # the same sum, in the same order, in Python floats
        expected += x * k
    assert _scaled_sum(a, k) == expected


def test_a_kernel_divides_like_numpy_without_raising() -> None:
    # error_model="numpy": 1/0 is inf, not ZeroDivisionError
    assert _scaled_sum(np.array([1.0]), float("inf")) == float("inf")


def test_warm_compiles_every_registered_kernel_of_the_product() -> None:
    import scheduler.policy.registry  # noqa: F401  (the plugins and packing modules with kernels)

    n, seconds = jit.warm()
    assert n == len(jit.kernels()) >= 1
    assert _scaled_sum in jit.kernels()
    assert all(k.signatures for k in jit.kernels())  # each one compiled (or loaded) now
    assert seconds >= 0.0
