"""`SnapshotCache`: bound indexes, reuse of an unchanged snapshot, holds that lapse."""

from __future__ import annotations

from types import MappingProxyType

from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.policy.model import Allocation, GpuGrant, Node, Placement
from scheduler.state.reservations import Ledger
from scheduler.state.snapshots import SnapshotCache

NODES = MappingProxyType({n: Node(n) for n in ("a", "b", "c")})


def _alloc(uid: str, node: str, gpu: int = 0, expires_at: float | None = None) -> Allocation:
    placement = Placement(node, (GpuGrant(gpu, f"GPU-{node}{gpu}"),))
    return Allocation(f"default/{uid}", uid, placement, expires_at=expires_at)


def test_an_unchanged_snapshot_is_handed_back_under_the_new_time() -> None:
    cache, ledger = SnapshotCache(), Ledger()
    one = cache.take(NODES, ledger, 0, 1.0)
    two = cache.take(NODES, ledger, 0, 2.0)
    assert two.allocations is one.allocations and two.now == 2.0
    # A new store version (any event) builds a new one.
    assert cache.take(NODES, ledger, 1, 3.0).allocations is not one.allocations


def test_a_hold_lapsing_between_two_asks_is_left_out() -> None:
    cache, ledger = SnapshotCache(), Ledger()
    ledger.reserve("u1", _alloc("u1", "a", expires_at=5.0))
    assert "u1" in cache.take(NODES, ledger, 0, 1.0).allocations
    # Same versions, but the hold expired at 5.0: not reused past its expiry.
    assert "u1" not in cache.take(NODES, ledger, 0, 6.0).allocations


def test_a_bound_allocation_wins_over_the_same_pods_hold() -> None:
    cache, ledger = SnapshotCache(), Ledger()
    ledger.reserve("u1", _alloc("u1", "a", gpu=0, expires_at=50.0))
    bound = _alloc("u1", "a", gpu=1)
    cache.hold("u1", None, bound)
    snap = cache.take(NODES, ledger, 1, 1.0)
    assert snap.allocations["u1"] is bound
    assert snap.allocations_on("a") == (bound,)  # the hold is not charged beside it


def test_an_earlier_snapshot_keeps_its_allocations_after_a_hold_moves() -> None:
    """Per-node dicts are replaced, never mutated: a snapshot handed out keeps what it saw."""
    cache, ledger = SnapshotCache(), Ledger()
    first = _alloc("u1", "a")
    cache.hold("u1", None, first)
    before = cache.take(NODES, ledger, 1, 1.0)
    cache.hold("u1", first, _alloc("u1", "b"))
    cache.mark(first)
    after = cache.take(NODES, ledger, 2, 2.0)
    assert before.allocations_on("a") == (first,) and before.allocations_on("b") == ()
    assert after.allocations_on("a") == () and [
        a.placement.node for a in after.allocations_on("b")
    ] == ["b"]


_moves = st.lists(
    st.tuples(st.integers(0, 3), st.sampled_from([None, "a", "b", "c"])), max_size=25
)  # (pod, node it is bound to now; None: gone)


@settings(max_examples=80, deadline=None)
@given(_moves)
def test_the_indexes_always_equal_the_allocations_held(moves) -> None:
    """Property: after any sequence of holds, `bound_on` is `bound` grouped by node, and a
    snapshot's allocations per node are exactly those."""
    cache, ledger = SnapshotCache(), Ledger()
    now: dict[str, Allocation] = {}
    for version, (pod, node) in enumerate(moves, start=1):
        uid = f"u{pod}"
        new = _alloc(uid, node) if node else None
        cache.hold(uid, now.get(uid), new)
        cache.mark(now.get(uid), new)
        if new is None:
            now.pop(uid, None)
        else:
            now[uid] = new
        assert cache.bound == now
        grouped: dict[str, dict[str, Allocation]] = {}
        for u, a in now.items():
            grouped.setdefault(a.placement.node, {})[u] = a
        assert cache.bound_on == grouped
        snap = cache.take(NODES, ledger, version, float(version))
        for n in NODES:
            assert sorted(a.uid for a in snap.allocations_on(n)) == sorted(grouped.get(n, {}))
