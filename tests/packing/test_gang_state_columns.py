"""FleetState's per-slot column memo: a node slot seen again gives the same columns, and a
slot for a changed node (a new object, as the scheduler builds one per node view) its own."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from packing.gang.cost import CostModel
from packing.gang.state import FleetState
from packing.gang.types import GangMember
from tests.packing.gang_builders import mig_gpu, node, plain_gpu

COLUMNS = ("node_of", "index", "model_id", "mig", "dynamic", "mask", "me_used", "free_milli",
           "free_mem", "n_free_inst", "cpu", "mem")  # fmt: skip
COST = CostModel([GangMember("m", whole=1)], "fragmentation")


def _same(a: FleetState, b: FleetState) -> bool:
    return (
        all(np.array_equal(getattr(a, c), getattr(b, c)) for c in COLUMNS)
        and a.models == b.models and a.free_inst == b.free_inst and a.existing == b.existing
    )  # fmt: skip


frees = st.lists(st.sampled_from([0, 300, 1000]), min_size=1, max_size=4)


@settings(max_examples=60, deadline=None)
@given(first=frees, later=frees)
def test_a_changed_node_gets_its_own_columns(first: list[int], later: list[int]) -> None:
    gpus = [mig_gpu(9, ("3g.40gb", 0, True), ("1g.10gb", 4, False))]
    before = node("a", *(plain_gpu(i, f) for i, f in enumerate(first)), *gpus)
    other = node("b", plain_gpu(0, 500))
    st1 = FleetState([before, other], COST)
    assert _same(st1, FleetState([before, other], COST))  # asked again: read back
    after = node("a", *(plain_gpu(i, f) for i, f in enumerate(later)), *gpus)  # new view
    fresh = FleetState([after, other], COST)
    assert list(fresh.free_milli[: len(later)]) == later
    assert _same(fresh, FleetState([node("a", *after.gpus), node("b", *other.gpus)], COST))
