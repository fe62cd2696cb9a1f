"""Exact fit on one node: table-driven cases (arithmetic in comments) and the one-sentence
property "a node passes only if the pod truly fits its geometry"."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from packing.catalogue import get_model
from packing.mig import MigInstance, check_layout, valid_layouts
from scheduler.policy.capacity import NodeCapacity
from scheduler.policy.fit import check, choose
from scheduler.policy.model import (
    UNKNOWN_INDEX,
    Allocation,
    ClusterState,
    GpuGrant,
    GpuHealth,
    GpuRequest,
    Placement,
)
from scheduler.policy.status import Code
from tests.builders import h100, node, pod

H100 = get_model("H100-80GB")


def _alloc(uid: str, node_name: str, *grants: GpuGrant) -> Allocation:
    return Allocation(f"default/{uid}", uid, Placement(node_name, grants))


def _cap(n, *allocs: Allocation) -> NodeCapacity:
    return NodeCapacity.build(n, allocs)


WHOLE_CASES = [
    # (GPUs on node, GPUs held, request, expected code)
    (2, 0, 2, Code.SUCCESS),  # 2 free >= 2
    (2, 1, 2, Code.UNSCHEDULABLE),  # 2 - 1 = 1 free < 2; eviction could help
    (2, 0, 3, Code.UNSCHEDULABLE_AND_UNRESOLVABLE),  # 2 GPUs in total < 3: never
    (8, 7, 1, Code.SUCCESS),  # 8 - 7 = 1 free
]


@pytest.mark.parametrize(("total", "held", "want", "code"), WHOLE_CASES)
def test_whole_gpus(total: int, held: int, want: int, code: Code) -> None:
    n = node("n", *(h100(i) for i in range(total)))
    allocs = [_alloc(f"u{i}", "n", GpuGrant(i)) for i in range(held)]
    status = check(_cap(n, *allocs), pod(gpu=GpuRequest("whole", want)))
    assert status.code is code, status.reasons
    placed = choose(_cap(n, *allocs), pod(gpu=GpuRequest("whole", want)))
    if code is Code.SUCCESS:
        assert placed is not None and len(placed.gpus) == want
        assert {g.index for g in placed.gpus}.isdisjoint(range(held))  # never a held GPU
    else:
        assert placed is None


MILLI_CASES = [
    # (shares held on the 1-GPU node as (milli, MiB), request milli, request MiB, fits?)
    ([(500, 0)], 500, 0, True),  # 1000 - 500 = 500 >= 500
    ([(500, 0), (300, 0)], 300, 0, False),  # 1000 - 800 = 200 < 300
    ([(200, 40000)], 300, 41560, False),  # milli ok (800 free); 81559 - 40000 = 41559 < 41560
    ([(200, 40000)], 300, 41559, True),  # 41559 <= 41559
    ([], 999, 81559, True),  # an idle GPU has all 81559 MiB and 1000 milli
]


@pytest.mark.parametrize(("held", "milli", "mib", "fits"), MILLI_CASES)
def test_milli_shares(held: list[tuple[int, int]], milli: int, mib: int, fits: bool) -> None:
    n = node("n", h100(0))
    allocs = [
        _alloc(f"u{i}", "n", GpuGrant(0, milli=m, memory_mib=b)) for i, (m, b) in enumerate(held)
    ]
    placed = choose(_cap(n, *allocs), pod(gpu=GpuRequest("milli", milli=milli, memory_mib=mib)))
    assert (placed is not None) is fits
    status = check(_cap(n, *allocs), pod(gpu=GpuRequest("milli", milli=milli, memory_mib=mib)))
    assert status.ok is fits


def test_whole_gpu_is_not_offered_when_a_share_is_on_it() -> None:
    # GPU 0 holds 1 milli, so only GPU 1 is whole-free: 1 of 2.
    n = node("n", h100(0), h100(1))
    cap = _cap(n, _alloc("u", "n", GpuGrant(0, milli=1)))
    placed = choose(cap, pod(gpu=GpuRequest("whole", 1)))
    assert placed is not None and placed.gpus[0].index == 1
    assert choose(cap, pod(gpu=GpuRequest("whole", 2))) is None


def test_faulted_gpu_offers_nothing_and_is_unresolvable() -> None:
    bad = h100(0)
    bad = type(bad)(**{**{f: getattr(bad, f) for f in bad.__slots__}, "health": GpuHealth(
        ecc_uncorrectable=3)})  # fmt: skip
    n = node("n", bad)
    status = check(_cap(n), pod(gpu=GpuRequest("whole", 1)))
    assert status.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert "hard fault" in status.message


def test_static_mig_takes_free_existing_instance_only() -> None:
    # GPU 0: 4g.40gb@0 in use, 3g.40gb@4 free -> one 3g.40gb available, no 4g.40gb.
    n = node("n", h100(0, mig=True, instances=[("4g.40gb", 0, True), ("3g.40gb", 4, False)]))
    got = choose(_cap(n), pod(gpu=GpuRequest("mig", 1, "3g.40gb")))
    assert got is not None and (got.gpus[0].profile, got.gpus[0].start) == ("3g.40gb", 4)
    st4 = check(_cap(n), pod(gpu=GpuRequest("mig", 1, "4g.40gb")))
    assert st4.code is Code.UNSCHEDULABLE  # 1 exists, held: evicting its user would help
    st1 = check(_cap(n), pod(gpu=GpuRequest("mig", 1, "1g.10gb")))
    assert st1.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE  # 0 exist: eviction cannot help


def test_dynamic_mig_respects_geometry() -> None:
    # 3g.40gb@4 exists: memory slices 4..7 used; 4g.40gb only starts at 0 (slices 0..3): fits,
    # but a second 4g.40gb cannot (max one start) -> count 2 fails.
    n = node("n", h100(0, mig=True, instances=[("3g.40gb", 4, True)]))
    got = choose(_cap(n), pod(gpu=GpuRequest("mig", 1, "4g.40gb", dynamic=True)))
    assert got is not None and got.gpus[0].start == 0
    assert choose(_cap(n), pod(gpu=GpuRequest("mig", 2, "4g.40gb", dynamic=True))) is None
    st = check(_cap(n), pod(gpu=GpuRequest("mig", 1, "7g.80gb", dynamic=True)))
    assert st.code is Code.UNSCHEDULABLE


def test_dynamic_mig_on_non_mig_gpu_is_unresolvable() -> None:
    st = check(_cap(node("n", h100(0))), pod(gpu=GpuRequest("mig", 1, "1g.10gb", dynamic=True)))
    assert st.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE


def test_unknown_index_grant_is_charged_first_fit() -> None:
    # A pod bound elsewhere with nvidia.com/gpu: 1 and no annotation takes GPU 0 (first fit).
    n = node("n", h100(0), h100(1))
    cap = _cap(n, _alloc("x", "n", GpuGrant(UNKNOWN_INDEX)))
    assert cap.free_whole() == 1


layouts = valid_layouts(H100)


@settings(max_examples=150, deadline=None)
@given(
    layout=st.sampled_from(layouts),
    profile=st.sampled_from([p.name for p in H100.profiles]),
    count=st.integers(1, 3),
)
def test_dynamic_fit_passes_only_if_geometry_allows(layout, profile, count) -> None:
    """Property: choose() succeeds iff adding `count` x profile to the layout is valid, and the
    result is itself a valid layout."""
    n = node("n", h100(0, mig=True, instances=[(i.profile, i.start, True) for i in layout]))
    got = choose(_cap(n), pod(gpu=GpuRequest("mig", count, profile, dynamic=True)))
    # Ground truth by brute force over all valid layouts: a superset with `count` more.
    base = sorted(layout)
    truth = any(
        len(cand) == len(base) + count
        and all(i in cand for i in base)
        and sorted(set(cand) - set(base), key=lambda i: i.start)
        and all(i.profile == profile for i in set(cand) - set(base))
        for cand in layouts
    )
    assert (got is not None) is truth
    if got is not None:
        new = [MigInstance(g.profile or "", g.start or 0) for g in got.gpus]
        check_layout(H100, [*layout, *new])  # raises if the placement were invalid


@settings(max_examples=100, deadline=None)
@given(
    shares=st.lists(st.integers(1, 1000), max_size=6),
    want=st.integers(1, 1000),
)
def test_milli_fit_passes_only_if_room(shares, want) -> None:
    """Property: a share fits iff some GPU's used milli + want <= 1000 (charging first-fit)."""
    n = node("n", h100(0), h100(1))
    allocs = [_alloc(f"u{i}", "n", GpuGrant(UNKNOWN_INDEX, milli=m)) for i, m in enumerate(shares)]
    cap = _cap(n, *allocs)
    free = [g.free_milli for g in cap.gpus]
    got = choose(cap, pod(gpu=GpuRequest("milli", milli=want)))
    assert (got is not None) is any(f >= want for f in free)
    # Never over-commit: used + want stays within one GPU.
    if got is not None:
        assert free[got.gpus[0].index] >= want


def test_state_capacity_is_memoised_and_without_recomputes_only_touched_node() -> None:
    s = ClusterState(
        {"a": node("a", h100(0)), "b": node("b", h100(0))},
        {"u": _alloc("u", "a", GpuGrant(0))},
    )
    ca, cb = s.capacity("a"), s.capacity("b")
    assert s.capacity("a") is ca
    t = s.without({"u"})
    assert t.capacity("b") is cb  # untouched node shares the memo
    assert t.capacity("a").free_whole() == 1 and ca.free_whole() == 0
