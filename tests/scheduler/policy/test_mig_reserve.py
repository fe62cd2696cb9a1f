"""The MIG window reserve (`plugins/mig_reserve.py`), by hand and as a property.

H100 geometry (packing catalogue): 8 memory slices, 7 compute slices; 3g.40gb takes 4 slices at
start 0 or 4, 2g.20gb 2 slices at 0, 2 or 4, 1g.10gb 1 slice at 0..6. An empty H100 has two 3g
windows (3 + 3 compute slices <= 7).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from packing.catalogue import get_model
from packing.mig import MigInstance, check_layout, valid_layouts
from scheduler.policy.demand import DemandLog, DemandMix
from scheduler.policy.framework import choose_placement, run_filters
from scheduler.policy.interfaces import CycleState
from scheduler.policy.model import ClusterState, GangRef, GpuRequest, PodRequest
from scheduler.policy.plugins.mig_reserve import (
    MigReserveFilter,
    kept_windows,
    taken,
    windows,
)
from scheduler.policy.registry import default_profile
from scheduler.policy.status import Code
from tests.builders import H100, h100, node, pod

MODEL = get_model(H100)
PROFILE = default_profile()
PER_NODE = replace(PROFILE, batch=False)
WITHOUT = replace(PROFILE, filters=tuple(f for f in PROFILE.filters if f.name != "MigReserve"))
# Four 3g.40gb asked at priority 10 and twelve 1g.10gb at priority 0: the 3g's share is 1/4.
MIX = DemandMix(mig={(10, "3g.40gb"): 4, (0, "1g.10gb"): 12})


def _mig(name: str, *layouts: tuple[tuple[str, int], ...]):
    """A node of H100s with MIG on, GPU i holding the (profile, start) instances `layouts[i]`
    (in use: a dynamic layout is what pods hold)."""
    return node(
        name,
        *(
            h100(i, mig=True, instances=[(p, s, True) for p, s in lay])
            for i, lay in enumerate(layouts)
        ),
    )


def _state(*nodes, mix: DemandMix | None = MIX) -> ClusterState:
    return ClusterState({n.name: n for n in nodes}, demand=mix)


def _asks(profile: str, priority: int, uid: str = "p") -> PodRequest:
    return pod(f"default/{uid}", GpuRequest("mig", 1, profile, dynamic=True), priority=priority,
               uid=uid)  # fmt: skip


@pytest.mark.parametrize(
    ("layout", "profile", "want"),
    [
        ((), "3g.40gb", 2),  # starts 0 and 4
        ((), "2g.20gb", 3),  # starts 0, 2, 4 (2+2+2 compute; a fourth needs start 6: none)
        ((), "1g.10gb", 7),  # starts 0..6, 7 compute slices
        ((("1g.10gb", 2),), "3g.40gb", 1),  # slice 2 breaks the window at 0; 4..7 free
        ((("1g.10gb", 2), ("1g.10gb", 5)), "3g.40gb", 0),
        ((("3g.40gb", 4),), "2g.20gb", 2),  # 0 and 2 (3 + 2 + 2 compute = 7)
        ((("3g.40gb", 0), ("3g.40gb", 4)), "1g.10gb", 0),  # every memory slice held
    ],
)
def test_windows_by_hand(layout, profile, want) -> None:
    assert windows(MODEL, [MigInstance(p, s) for p, s in layout], profile) == want


def test_kept_windows_sized_by_the_mix() -> None:
    # 2 nodes x 2 empty MIG H100s: 8 3g windows when empty. Priority-0 pod: the 3g share of
    # the instances asked is 1/4 -> min(ceil(8 / 4), 4 asked) = 2 kept. A priority-10 pod:
    # nothing above it.
    state = _state(_mig("a", (), ()), _mig("b", (), ()))
    assert kept_windows(state, _asks("1g.10gb", 0)) == {"3g.40gb": 2}
    # One 3g seen and nothing else: share 1 -> min(8, 1 asked) = 1, not every window.
    first = _state(_mig("a", (), ()), _mig("b", (), ()), mix=DemandMix(mig={(10, "3g.40gb"): 1}))
    assert kept_windows(first, _asks("1g.10gb", 0)) == {"3g.40gb": 1}
    assert kept_windows(state, _asks("1g.10gb", 10)) == {}
    assert kept_windows(_state(_mig("a", ()), mix=None), _asks("1g.10gb", 0)) == {}
    static = pod("default/s", GpuRequest("mig", 1, "1g.10gb"))
    assert kept_windows(state, static) == {}  # takes an existing instance: carves nothing
    member = replace(_asks("1g.10gb", 0), gang=GangRef("default/g", 2))
    assert kept_windows(state, member) == {}  # its plan's slots stand


# One node, GPU 0 with 3g@4 held: windows 3g free = 1 (start 0), total on empty GPUs = 2,
# kept = min(ceil(1/4 x 2), 4) = 1.
HALF = (("3g.40gb", 4),)


@pytest.mark.parametrize(
    ("layouts", "asks", "priority", "code"),
    [
        # The 1g must go in slices 0..3, breaking the last free 3g window: 1 - 1 = 0 < 1.
        ((HALF,), "1g.10gb", 0, Code.UNSCHEDULABLE),
        # Higher priority than all demand seen: never held back.
        ((HALF,), "1g.10gb", 10, Code.SUCCESS),
        # The 3g itself, at priority 0, would take the last window too.
        ((HALF,), "3g.40gb", 0, Code.UNSCHEDULABLE),
        # A second GPU, empty: the 1g goes to the fuller GPU 0 (breaks its last window: lost 1)
        # while GPU 1's two stay free: 3 - 1 = 2 >= kept min(ceil(1/4 x 4), 4) = 1.
        ((HALF, ()), "1g.10gb", 0, Code.SUCCESS),
        # GPU 0 half-broken by a 1g at 5: the new 1g goes beside it, at 4 (the start
        # fit_multiset picks keeps the 3g@0 window): lost 0 -> passes whatever the count.
        (((("1g.10gb", 5),),), "1g.10gb", 0, Code.SUCCESS),
    ],
)
def test_filter_by_hand(layouts, asks, priority, code) -> None:
    state = _state(_mig("m", *layouts))
    p = _asks(asks, priority)
    for profile in (PROFILE, PER_NODE):
        got = run_filters(state, p, ["m"], profile)
        assert (got.passed == ["m"]) is (code is Code.SUCCESS)
    status = MigReserveFilter().filter(state, p, state.nodes["m"])
    assert status.code is code
    if code is not Code.SUCCESS:
        assert "0 free 3g.40gb MIG window(s)" in status.message
        assert "1 kept for pods of priority above 0" in status.message


def test_without_the_reserve_the_last_window_is_carved() -> None:
    """The rule's own effect: the profile without MigReserve places the notebook there."""
    state = _state(_mig("m", HALF))
    assert run_filters(state, _asks("1g.10gb", 0), ["m"], WITHOUT).passed == ["m"]
    assert run_filters(state, _asks("1g.10gb", 0), ["m"], PROFILE).passed == []


def test_count_is_cluster_wide() -> None:
    # Nodes a and b, one GPU each with 3g@4 held: 2 free 3g windows of 4; kept
    # min(ceil(1/4 x 4), 4) = 1. A 1g on either leaves 1 >= 1; once a holds one (a 1g at 0),
    # b's last one is kept.
    p = _asks("1g.10gb", 0)
    both = _state(_mig("a", HALF), _mig("b", HALF))
    assert run_filters(both, p, ["a", "b"], PROFILE).passed == ["a", "b"]
    one = _state(_mig("a", (*HALF, ("1g.10gb", 0))), _mig("b", HALF))
    assert run_filters(one, p, ["b"], PROFILE).passed == []


def test_batch_path_judges_only_mig_rows_and_only_when_the_reserve_may_bite() -> None:
    # Empty: 4 free 3g windows of 4 (2 GPUs); kept min(ceil(1/4 x 4), 4) = 1; a 1g takes at
    # most the 2 free on the GPU it lands on: 4 - 2 >= 1, so every row passes at once, none
    # asked one by one.
    plain = node("cpu", h100(0))
    empty = _state(_mig("m", (), ()), plain)
    p = _asks("1g.10gb", 0)
    got = MigReserveFilter().filter_rows(CycleState(empty, p, ["m", "cpu"]))
    assert got is not None and got.code is None and got.exact is None
    # One window left (GPU 0's at 0): 1 - 1 < 1: the MIG row goes to the per-node path, the
    # other passes.
    tight = _state(_mig("m", HALF, (("1g.10gb", 0), ("1g.10gb", 4))), plain)
    got = MigReserveFilter().filter_rows(CycleState(tight, p, ["m", "cpu"]))
    assert got is not None and got.code is None and list(got.exact) == [True, False]


def test_demand_log_counts_dynamic_mig_by_priority() -> None:
    log = DemandLog()
    log.observe(_asks("3g.40gb", 10, "a"))
    log.observe(_asks("1g.10gb", 0, "b"))
    log.observe(_asks("1g.10gb", 0, "b"))  # the same pod again: counted once
    log.observe(pod("default/s", GpuRequest("mig", 1, "1g.10gb"), uid="s"))  # static: not
    assert log.mix().mig == {(10, "3g.40gb"): 1, (0, "1g.10gb"): 1}


LAYOUTS = valid_layouts(MODEL)
PROFILES = ("1g.10gb", "2g.20gb", "3g.40gb")


@settings(max_examples=150, deadline=None)
@given(
    layouts=st.lists(st.sampled_from(LAYOUTS), min_size=1, max_size=3),
    asks=st.sampled_from(PROFILES),
    above=st.dictionaries(st.sampled_from(PROFILES), st.integers(1, 5), min_size=1),
    below=st.integers(0, 10),
)
def test_no_lower_priority_instance_lands_in_a_kept_window(layouts, asks, above, below) -> None:
    """Property: a priority-0 dynamic MIG pod passes a node only if its placement there takes
    no free window of a profile asked above it, or leaves at least the kept number free in the
    cluster; and the placement is a valid layout on its GPU (no slice double-booked)."""
    mix = DemandMix(mig={**{(5, p): n for p, n in above.items()}, (0, asks): below + 1})
    lays = [tuple((i.profile, i.start) for i in lay) for lay in layouts]
    state = _state(*(_mig(f"n{i}", lay) for i, lay in enumerate(lays)), mix=mix)
    p = _asks(asks, 0)
    names = list(state.nodes)
    passed = run_filters(state, p, names, PROFILE).passed
    assert run_filters(state, p, names, PER_NODE).passed == passed  # the batch path agrees
    kept = kept_windows(state, p)
    assert set(kept) == set(above)
    for name in passed:
        cap = state.capacity(name)
        placement = choose_placement(state, p, state.nodes[name])
        assert placement is not None
        for profile, n in kept.items():
            free = sum(
                windows(g.model, g.occupied, profile)
                for nm in names
                for g in state.capacity(nm).usable_gpus
            )
            lost = taken(cap, placement, profile)
            assert lost == 0 or free - lost >= n
        for grant in placement.gpus:
            g = cap.gpus[grant.index]
            check_layout(MODEL, (*g.occupied, MigInstance(grant.profile, grant.start)))
