"""packing.jit: kernels compiled ahead of time into `packing._kernels` at install, loaded
without numba, refused when stale, and guarded against arguments of the wrong type."""

from __future__ import annotations

import subprocess
import sys
import tomllib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from packing import jit
from tests.conftest import REPO

KERNEL_MODULES = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["tessera"][
    "kernel-modules"
]


def _import_every_kernel_module() -> None:
    for name in KERNEL_MODULES:
        __import__(name)


def test_every_kernel_lives_in_a_listed_module() -> None:
    # setup.py compiles the kernels of the listed modules only: one elsewhere is not built
    import scheduler.policy.gang  # noqa: F401  (with the registry: the policy core's modules)
    import scheduler.policy.registry  # noqa: F401
    import simulator.fgd_fill.run  # noqa: F401

    _import_every_kernel_module()
    modules = {f.__module__ for _, f, _, _ in jit.REGISTRY}
    assert modules and modules <= set(KERNEL_MODULES)


def test_serving_and_the_policy_core_load_no_compiler() -> None:
    # numba and LLVM cost a process ~120 MB of RSS: build tools only (module docstring)
    code = (
        "import sys, cli.serve, scheduler.policy.registry, simulator.fgd_fill.run"
        + "".join(f"; import {m}" for m in KERNEL_MODULES)
        + "; print(sorted(m for m in ('numba', 'llvmlite') if m in sys.modules))"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k != jit.MODE_ENV}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    ).stdout.strip()
    assert out == "[]"


def test_each_compiled_kernel_matches_its_source_hash() -> None:
    _import_every_kernel_module()
    import importlib

    compiled = importlib.import_module(jit.COMPILED)
    for name, f, _, _ in jit.REGISTRY:
        assert getattr(compiled, "hash__" + name)() == jit.source_hash(f), name


def test_a_kernel_older_than_its_source_is_refused_by_name_at_its_first_call() -> None:
    _import_every_kernel_module()
    name, _, sample, _ = jit.REGISTRY[0]
    compiled, built = jit._ahead_of_time(name)

    def edited(*args: object) -> None:  # another source under the registered name
        return None

    stale = jit.checked(name, compiled, sample(), lambda: jit._verify(name, edited, built))
    with pytest.raises(jit.KernelsUnavailable, match=f"kernel {name} is missing or older"):
        stale(*sample())


def test_the_first_call_verifies_once() -> None:
    calls: list[int] = []
    once = jit.checked("test__once", _sum_source, (np.zeros(2), 1.0), lambda: calls.append(1))
    assert once(np.ones(2), 2.0) == once(np.ones(2), 2.0) == 4.0
    assert calls == [1]


LIMIT: object = 2


def _reads_limit(a: float) -> object:
    return a * LIMIT  # type: ignore[operator]


def test_the_source_hash_covers_the_constants_a_kernel_reads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # numba compiles a global's value into the code: a changed constant is a changed kernel
    hashes = set()
    for limit in (2, 3, 3.0, np.array([1, 2]), np.array([1, 3])):
        monkeypatch.setattr(sys.modules[__name__], "LIMIT", limit)
        hashes.add(jit.source_hash(_reads_limit))
    assert len(hashes) == 5


# Test kernels compile at run time (TESSERA_KERNELS=jit): they are not in the built module.
def _scaled_sum_source(a: np.ndarray, k: float) -> float:
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * k
    return s


def _jit_kernel(f: object, sample: object) -> object:
    """`f` as a kernel compiled at run time, left out of the registry the build reads."""
    before = len(jit.REGISTRY)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(jit.MODE_ENV, "jit")
        got = jit.kernel(sample)(f)  # type: ignore[arg-type, type-var]
    del jit.REGISTRY[before:]
    return got


SCALED_SUM = _jit_kernel(_scaled_sum_source, lambda: (np.zeros(3), 1.0))


@given(a=hnp.arrays(np.float64, st.integers(0, 20), elements=st.floats(-1e6, 1e6)),
       k=st.floats(-10, 10))  # fmt: skip
def test_a_kernel_answers_what_its_python_source_does(a: np.ndarray, k: float) -> None:
    assert SCALED_SUM(a, k) == _scaled_sum_source(a, k)  # type: ignore[operator]


def test_a_kernel_divides_like_numpy_without_raising() -> None:
    assert SCALED_SUM(np.array([1.0]), float("inf")) == float("inf")  # type: ignore[operator]


def _sum_source(a: np.ndarray, k: float) -> float:
    return float(a.sum() * k)


# `checked` needs no compiler: a Python function stands in for the compiled kernel.
CHECKED = jit.checked("test__sum", _sum_source, (np.zeros((2, 3), np.int16), 1.0))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        # (the dtype is misread by compiled code: refused, never passed on)
        ((np.zeros((2, 3), np.int64), 1.0), "argument 0 must be an array of dtype int16 "
         "with 2 dimension(s), got an array of dtype int64 with 2 dimension(s)"),
        ((np.zeros(3, np.int16), 1.0), "got an array of dtype int16 with 1 dimension(s)"),
        (([[1, 2, 3]], 1.0), "argument 0 must be an array of dtype int16 with 2 dimension(s), "
         "got list"),
        ((np.zeros((2, 3), ">i2"), 1.0), "got an array of dtype >i2"),  # byte-swapped
        ((np.zeros((2, 3), np.int16), "1"), "argument 1 must be a float, got str"),
    ],
)  # fmt: skip
def test_a_wrong_argument_is_refused_in_one_line(args: tuple[object, ...], message: str) -> None:
    with pytest.raises(TypeError, match="kernel test__sum: ") as err:
        CHECKED(*args)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_every_layout_and_number_kind_is_accepted() -> None:
    a = np.arange(12, dtype=np.int16).reshape(3, 4)
    assert CHECKED(a[:, ::2], 2) == float(a[:, ::2].sum() * 2)  # strided, an int for a float
    assert CHECKED(a.T, np.float32(1.5)) == float(a.sum() * np.float32(1.5))
    assert CHECKED(np.zeros((2, 3), np.dtype("<i2")), 1.0) == 0.0  # equal, native dtype


HELPER: object = None


def _helper_source(x: float) -> float:
    return x + 1.0


def test_an_inner_function_stays_python_and_is_part_of_its_callers_hash(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    helper = jit.inner(_helper_source)
    assert helper is _helper_source  # no compiler at run time: the plain function

    def caller(x: float) -> float:
        return HELPER(x)  # type: ignore[operator]

    monkeypatch.setitem(globals(), "HELPER", helper)
    first = jit.source_hash(caller)
    monkeypatch.setitem(globals(), "HELPER", _scaled_sum_source)  # another function, not inner
    assert jit.source_hash(caller) != first
