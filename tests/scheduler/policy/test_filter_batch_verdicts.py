"""The batch filter's answer when some candidates fail and every verdict is the batch's own
(`filtering._batch_verdicts`: no exact row, every name known) equals the numpy steps of the
general path it bypasses (commit b3b9f02): the same passed list, and the same failure
reasons, dict order included."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.policy.filtering import _batch_verdicts
from scheduler.policy.interfaces import RowVerdicts
from scheduler.policy.results import FilterResult
from scheduler.policy.status import Code


@dataclass
class NamedPluginStandIn:
    name: str


def _reference_general_path(names, code, who, plugins, answers) -> FilterResult:
    """The general path's steps of commit b3b9f02 with no exact row and every name known."""
    ok = code == 0
    arr = np.asarray(names, dtype=object)
    out = FilterResult(arr[ok].tolist(), names=names)
    fails = code != 0
    if fails.any():
        group = np.where(fails, who.astype(np.int32) * 4 + code, -1)
        for g in np.unique(group[fails]).tolist():
            i, c = divmod(g, 4)
            msg = f"{plugins[i].name}: {answers[i].reasons.get(Code(c), '')}"
            into = out.unresolvable if c == Code.UNSCHEDULABLE_AND_UNRESOLVABLE else out.failed
            into.update(dict.fromkeys(arr[group == g].tolist(), msg))
    return out


_FAIL_CODES = (int(Code.UNSCHEDULABLE), int(Code.UNSCHEDULABLE_AND_UNRESOLVABLE))


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 3), st.data())
def test_batch_verdicts_equal_the_general_path(n_plugins: int, data) -> None:
    plugins = [NamedPluginStandIn(f"P{i}") for i in range(n_plugins)]
    answers = [
        RowVerdicts(None, {Code(c): f"why {i}/{c}" for c in _FAIL_CODES}) for i in range(n_plugins)
    ]
    cells = data.draw(
        st.lists(
            st.one_of(st.just((0, -1)), st.tuples(st.sampled_from(_FAIL_CODES),
                                                  st.integers(0, n_plugins - 1))),
            min_size=1, max_size=20,
        )
    )  # fmt: skip
    names = [f"n{i}" for i in range(len(cells))]
    code = np.array([c for c, _ in cells], np.int8)
    who = np.array([w for _, w in cells], np.int16)
    got = _batch_verdicts(names, code, who, plugins, answers)
    want = _reference_general_path(names, code, who, plugins, answers)
    assert got.passed == want.passed
    assert list(got.failed.items()) == list(want.failed.items())
    assert list(got.unresolvable.items()) == list(want.unresolvable.items())
    assert got.statuses == want.statuses == {}
