"""A cycle's lazy fields (`CycleState.__getattr__`): whichever of `rows`, `known` and `_rows`
is read first, all three are set together, and they are the index's `rows_of` the names."""

from __future__ import annotations

import pytest

from scheduler.policy.interfaces import CycleState
from tests.builders import pod
from tests.scheduler.policy.share_fleet import gpu_node


@pytest.mark.parametrize("first", ["rows", "known", "_rows", "index"])
def test_the_first_read_field_sets_its_companions(first: str) -> None:
    from scheduler.policy.model import ClusterState

    nodes = {n.name: n for n in (gpu_node("a", 2), gpu_node("b", 1))}
    state = ClusterState(nodes, {})
    names = ["b", "gone", "a"]
    cycle = CycleState(state, pod(), names)
    getattr(cycle, first)
    got = cycle.__dict__
    assert got["index"] is state.fleet()
    if first == "index":  # the rows are looked up only when read
        assert "rows" not in got and "_rows" not in got
        return
    rows, known = state.fleet().rows_of(names)
    assert got["rows"].tolist() == rows.tolist() and got["known"].tolist() == known.tolist()
    assert got["_rows"][0] is got["rows"] and got["_rows"][1] is got["known"]
    assert known.tolist() == [True, False, True]
    with pytest.raises(AttributeError, match="no attribute 'other'"):
        cycle.other  # noqa: B018
