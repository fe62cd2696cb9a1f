"""The greedy packer's whole-GPU shortcut (`_whole_units`) picks what one-by-one `_unit` picks.

Property: for any node of plain GPUs with any free shares, a member of k whole GPUs gets the
same grants, or the same refusal, as k calls of `_unit` applying each pick before the next.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from packing.errors import InvalidPlacementError
from packing.gang.cost import CostModel
from packing.gang.greedy import _place_on, _unit
from packing.gang.state import FleetState
from packing.gang.types import GangMember, Grant
from tests.packing.gang_builders import node, plain_gpu

frees = st.lists(st.sampled_from([0, 250, 500, 1000, 1000, 1000]), min_size=1, max_size=8)


def _one_by_one_reference(st_: FleetState, m: GangMember, ni: int) -> tuple[Grant, ...] | None:
    grants: list[Grant] = []
    try:
        st_.take_node(ni, m)
        for _ in range(m.whole):
            g = _unit(st_, m, ni)
            if g is None:
                return None
            st_.apply(ni, m, g)
            grants.append(g)
    except InvalidPlacementError:
        return None
    return tuple(grants)


@settings(max_examples=200, deadline=None)
@given(free=frees, whole=st.integers(1, 8), share_member=st.sampled_from([0, 250, 500]))
def test_whole_units_match_one_by_one(free: list[int], whole: int, share_member: int) -> None:
    n = node("n0", *(plain_gpu(i, f) for i, f in enumerate(free)))
    m = GangMember("m0", whole=whole)
    # the cost tables follow the gang's members: a share member varies them
    mix = [m] + ([GangMember("s0", milli=share_member)] if share_member else [])
    cost = CostModel(mix, "fragmentation")
    fast, slow = FleetState([n], cost), FleetState([n], cost)
    got = _place_on(fast, m, 0)
    assert got == _one_by_one_reference(slow, m, 0)
    if got is None:  # a refusal leaves the node as it was
        assert list(fast.free_milli) == free
    else:
        assert list(fast.free_milli) == list(slow.free_milli)
