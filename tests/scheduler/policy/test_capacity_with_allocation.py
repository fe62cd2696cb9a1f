"""`NodeCapacity.with_allocation`: a view with one more allocation charged, without a rebuild,
is exactly the view `NodeCapacity.build` gives (GPUs, pods, free static instances, pool,
victims in UID order, overbooked grants, free CPU), or None."""

from __future__ import annotations

import copy

from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.policy.capacity import NodeCapacity
from scheduler.policy.model import (
    UNKNOWN_INDEX,
    Allocation,
    Gpu,
    GpuGrant,
    MigSlot,
    Node,
    Placement,
)
from tests.builders import H100, H100_MIB
from tests.scheduler.policy.test_batch import clusters

grants = st.sampled_from([
    GpuGrant(0), GpuGrant(1), GpuGrant(0, milli=300, memory_mib=20000),
    GpuGrant(1, milli=700, memory_mib=0), GpuGrant(2, milli=500, memory_mib=90000),
    GpuGrant(5, milli=100, memory_mib=0),  # no such GPU
    GpuGrant(UNKNOWN_INDEX, milli=400, memory_mib=0), GpuGrant(0, profile="1g.10gb"),
    GpuGrant(1, profile="3g.40gb", start=4), GpuGrant(0, profile="1g.10gb", start=0),
    GpuGrant(0, profile="2g.20gb", start=2), GpuGrant(1, profile="1g.10gb", start=6),
])  # fmt: skip


def _fields(cap: NodeCapacity) -> tuple[object, ...]:
    return (cap.gpus, cap.pool_free, list(cap.victims.items()), cap.overbooked, cap.cpu_free)


@settings(max_examples=300, deadline=None)
@given(clusters(), st.lists(st.tuples(st.lists(grants, min_size=1, max_size=3),
                                      st.integers(0, 99), st.sampled_from([0, 500, 4000])),
                            max_size=8))  # fmt: skip
def test_with_allocation_is_the_rebuilt_view(state, binds) -> None:  # type: ignore[no-untyped-def]
    """Property: from any view (MIG GPUs, pools, unnamed or overbooked grants), after any
    sequence of allocations added one by one, the view built by `with_allocation` where it
    answers (else rebuilt) equals `build` over all the node's allocations, field by field."""
    name = sorted(state.nodes)[0]
    node = state.nodes[name]
    allocs = list(state.allocations_on(name))
    cap = NodeCapacity.build(node, allocs)
    for k, (gs, uid, cpu) in enumerate(binds):
        a = Allocation(f"d/{k}", f"v{uid:02d}", Placement(name, tuple(gs)), cpu_milli=cpu)
        if any(x.uid == a.uid for x in allocs):
            assert cap.with_allocation(a) is None  # a UID twice: `build` would charge it twice
            continue
        allocs.append(a)
        fresh = NodeCapacity.build(node, allocs)
        was = copy.deepcopy(_fields(cap))
        quick = cap.with_allocation(a)
        assert _fields(cap) == was  # a view never changes once built (others share its GPUs)
        if quick is not None:
            assert _fields(quick) == _fields(fresh)
        cap = fresh if quick is None else quick


def test_shares_on_named_plain_gpus_take_the_quick_path() -> None:
    """Table: two plain H100s; 300 then 500 milli on GPU 1 (uids out of order), 1000 - 300 -
    500 = 200 left, GPU 0 untouched and shared with the first view; a MIG grant: None."""
    gpus = tuple(Gpu(i, f"G{i}", H100, H100_MIB, False) for i in range(2))
    node = Node("n", gpus=gpus, cpu_milli=8000)
    a = Allocation(
        "d/b", "b", Placement("n", (GpuGrant(1, milli=300, memory_mib=0),)), cpu_milli=1000
    )
    b = Allocation(
        "d/a", "a", Placement("n", (GpuGrant(1, milli=500, memory_mib=0),)), cpu_milli=2000
    )
    first = NodeCapacity.build(node, [a])
    quick = first.with_allocation(b)
    assert quick is not None
    assert [g.free_milli for g in quick.gpus] == [1000, 200]
    assert quick.cpu_free == 8000 - 1000 - 2000
    assert list(quick.victims) == ["a", "b"]  # `build`'s order
    assert quick.gpus[0] is first.gpus[0] and quick.gpus[1].pods == {"a", "b"}
    assert _fields(quick) == _fields(NodeCapacity.build(node, [a, b]))
    mig = Allocation("d/c", "c", Placement("n", (GpuGrant(0, profile="1g.10gb"),)))
    assert first.with_allocation(mig) is None
    twice = Node("t", gpus=(gpus[0], gpus[0]), cpu_milli=8000)  # two GPUs of index 0: rebuilt
    on0 = Allocation("d/z", "z", Placement("t", (GpuGrant(0, milli=100, memory_mib=0),)))
    assert NodeCapacity.build(twice, []).with_allocation(on0) is None


@settings(max_examples=300, deadline=None)
@given(clusters(), st.lists(st.tuples(st.lists(grants, min_size=1, max_size=3),
                                      st.integers(0, 99), st.sampled_from([0, 500, 4000])),
                            max_size=8), st.data())  # fmt: skip
def test_without_allocation_is_the_rebuilt_view(state, binds, data) -> None:  # type: ignore[no-untyped-def]
    """Property: from the view of any node's allocations, handing back any one of them gives,
    where `without_allocation` answers, the view `build` gives without it, field by field."""
    name = sorted(state.nodes)[0]
    node = state.nodes[name]
    allocs = list(state.allocations_on(name))
    for k, (gs, uid, cpu) in enumerate(binds):
        if all(x.uid != f"v{uid:02d}" for x in allocs):
            allocs.append(Allocation(f"d/{k}", f"v{uid:02d}", Placement(name, tuple(gs)),
                                     cpu_milli=cpu))  # fmt: skip
    cap = NodeCapacity.build(node, allocs)
    gone = data.draw(st.sampled_from([a.uid for a in allocs] + ["missing"]))
    was = copy.deepcopy(_fields(cap))
    quick = cap.without_allocation(gone)
    assert _fields(cap) == was  # the view it came from is untouched
    if quick is not None:
        rest = [a for a in allocs if a.uid != gone]
        assert _fields(quick) == _fields(NodeCapacity.build(node, rest))


def test_handing_back_a_share_takes_the_quick_path() -> None:
    """Table: 300 and 500 milli on GPU 1 of two plain H100s; handing back the 300 leaves 500
    used, GPU 0 shared with the view it came from; an unknown UID or a MIG grant: None."""
    gpus = tuple(Gpu(i, f"G{i}", H100, H100_MIB, False) for i in range(2))
    node = Node("n", gpus=gpus, cpu_milli=8000)
    a = Allocation("d/a", "a", Placement("n", (GpuGrant(1, milli=300, memory_mib=10),)),
                   cpu_milli=1000)  # fmt: skip
    b = Allocation("d/b", "b", Placement("n", (GpuGrant(1, milli=500, memory_mib=0),)))
    both = NodeCapacity.build(node, [a, b])
    quick = both.without_allocation("a")
    assert quick is not None
    assert [g.free_milli for g in quick.gpus] == [1000, 500]
    assert quick.gpus[0] is both.gpus[0] and quick.gpus[1].pods == {"b"}
    assert _fields(quick) == _fields(NodeCapacity.build(node, [b]))
    assert both.without_allocation("zz") is None
    mig = Allocation("d/c", "c", Placement("n", (GpuGrant(0, profile="1g.10gb"),)))
    assert NodeCapacity.build(node, [mig]).without_allocation("c") is None


def test_a_mig_instance_redoes_only_its_gpu_in_build_order() -> None:
    """Table: a plain H100 and a MIG H100; instances 3g@4 (uid "b") then 1g@0 (uid "a") on
    the MIG GPU: the view equals `build`'s, its instances in UID order ("a" first), the plain
    GPU shared with the view before; handing "a" back leaves 3g@4 alone. A second claim on
    3g@4 does not fit: None (`build` records it as overbooked)."""
    gpus = (Gpu(0, "G0", H100, H100_MIB, False), Gpu(1, "G1", H100, H100_MIB, True))
    node = Node("n", gpus=gpus, cpu_milli=8000)

    def on_mig(uid: str, profile: str, start: int) -> Allocation:
        return Allocation(f"d/{uid}", uid, Placement("n", (GpuGrant(1, profile=profile,
                                                                     start=start),)))  # fmt: skip

    b, a = on_mig("b", "3g.40gb", 4), on_mig("a", "1g.10gb", 0)
    first = NodeCapacity.build(node, [b])
    quick = first.with_allocation(a)
    assert quick is not None
    assert _fields(quick) == _fields(NodeCapacity.build(node, [a, b]))
    assert [i.profile for i in quick.gpus[1].occupied] == ["1g.10gb", "3g.40gb"]
    assert quick.gpus[0] is first.gpus[0]
    back = quick.without_allocation("a")
    assert back is not None and _fields(back) == _fields(first)
    assert back.plain is False and NodeCapacity.build(node, []).plain is True
    assert quick.with_allocation(on_mig("c", "3g.40gb", 4)) is None


def test_grants_charged_anywhere_or_twice_leave_mig_changes_to_a_rebuild() -> None:
    """Table: a grant on an unnamed GPU is charged, after the named ones, to the first GPU that
    holds it, and a UID given twice is charged twice: a GPU's state is then not its own grants
    alone, so a MIG change there answers None (or exactly `build`'s view)."""
    layout = (MigSlot("1g.10gb", 0, False), MigSlot("3g.40gb", 4, False))
    gpus = (Gpu(0, "G0", H100, H100_MIB, True, layout), Gpu(1, "G1", H100, H100_MIB, False))
    node = Node("n", gpus=gpus, cpu_milli=8000)
    anywhere = Allocation("d/u", "u", Placement("n", (GpuGrant(UNKNOWN_INDEX, profile="1g.10gb"),)))
    grants = (GpuGrant(0, profile="3g.40gb", start=4), GpuGrant(1, milli=100, memory_mib=0))
    new = Allocation("d/a", "a", Placement("n", grants))
    twice = Allocation("d/t", "t", Placement("n", (GpuGrant(1, milli=300, memory_mib=0),)))
    for held in ([anywhere], [twice, twice]):
        quick = NodeCapacity.build(node, held).with_allocation(new)
        assert quick is None or _fields(quick) == _fields(NodeCapacity.build(node, [*held, new]))
        back = NodeCapacity.build(node, [*held, new]).without_allocation("a")
        assert back is None or _fields(back) == _fields(NodeCapacity.build(node, held))
