"""drain_targets: which nodes to keep for a gang that does not fit now (hand-computed)."""

from __future__ import annotations

from types import MappingProxyType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.policy.gang import drain_budgets, drain_targets, within_budget
from scheduler.policy.model import (
    Allocation,
    ClusterState,
    GangRef,
    GpuGrant,
    GpuRequest,
    Placement,
)
from scheduler.policy.registry import default_profile
from tests.builders import h100, node, pod


def _state(busy: dict[str, int], gpus: int = 8) -> ClusterState:
    """One node per key with `gpus` H100s; the first `busy[name]` GPUs each hold one pod."""
    nodes = {n: node(n, *(h100(i, uuid=f"GPU-{n}-{i}") for i in range(gpus))) for n in busy}
    allocs = {
        f"{n}-{i}": Allocation(f"default/{n}-{i}", f"{n}-{i}",
                               Placement(n, (GpuGrant(i, f"GPU-{n}-{i}"),)))
        for n, k in busy.items() for i in range(k)
    }
    return ClusterState(MappingProxyType(nodes), MappingProxyType(allocs))


def _gang(members: int, count: int) -> list:
    ref = GangRef("default/g", members)
    return [pod(f"default/g-{i}", GpuRequest("whole", count=count), gang=ref)
            for i in range(members)]


@pytest.mark.parametrize(("busy", "members", "count", "want"), [
    # 2 x 8 GPUs: the two least busy nodes (b: 2 in use, c: 4), not a (6).
    ({"a": 6, "b": 2, "c": 4}, 2, 8, ("b", "c")),
    # 2 x 4 GPUs: c (1 in use) has 7 free: one member waits for nothing there; the second
    # would wait for 1 busy GPU on c, for none on b (6 free): c then b.
    ({"a": 6, "b": 2, "c": 1}, 2, 4, ("c", "b")),
    # 2 x 4 GPUs, a and b 6 in use each: the first on a (ties by order: 2 busy to wait for);
    # the second would wait for 4 more on a, 2 on b: b.
    ({"a": 6, "b": 6}, 2, 4, ("a", "b")),
    # Equal waits go to a node already chosen: 2 x 4 on a (2 in use) and b (6 in use): the
    # first on a (6 free); the second waits for 2 busy GPUs on a or 2 on b -> a again.
    ({"a": 2, "b": 6}, 2, 4, ("a",)),
    # Ties (b and c both 3 in use) go by the order given: b first.
    ({"a": 5, "b": 3, "c": 3}, 1, 8, ("b",)),
    # 3 x 8 GPUs on 3 nodes: all of them, least busy first.
    ({"a": 6, "b": 2, "c": 4}, 3, 8, ("b", "c", "a")),
    # A member of 16 GPUs fits no 8-GPU node even drained: nothing is kept.
    ({"a": 0, "b": 0}, 1, 16, ()),
    # 3 x 8 GPUs on 2 nodes: never, even drained.
    ({"a": 0, "b": 0}, 3, 8, ()),
])
def test_drain_targets_pick_the_least_busy_nodes_that_would_host_the_gang(
        busy: dict[str, int], members: int, count: int, want: tuple[str, ...]) -> None:
    state = _state(busy)
    got = drain_targets(state, _gang(members, count), list(busy), default_profile())
    assert got == want


@pytest.mark.parametrize(("busy", "members", "count", "want"), [
    # 2 x 4 on one 8-GPU node: its whole 8 GPUs are the budget.
    ({"a": 2, "b": 6}, 2, 4, {"a": 8}),
    # 2 x 4, a 2 in use, b 4: the first on a (6 free); the second waits for 2 busy GPUs on a,
    # none on b (4 free): 4 of each.
    ({"a": 2, "b": 4}, 2, 4, {"a": 4, "b": 4}),
    # 2 x 2 on 8-GPU nodes with 7 in use each: the first on a (1 busy to wait for, ties by
    # order); the second waits for 2 more on a (4 - 1 = 3 short), 1 on b -> b.
    ({"a": 7, "b": 7}, 2, 2, {"a": 2, "b": 2}),
    # One member of 2 GPUs (a gang's remaining member): 2 of the node, not all 8.
    ({"a": 7, "b": 5}, 1, 2, {"b": 2}),
])
def test_drain_budgets_keep_only_the_gpus_the_gang_takes(
        busy: dict[str, int], members: int, count: int, want: dict[str, int]) -> None:
    state = _state(busy)
    assert drain_budgets(state, _gang(members, count), list(busy), default_profile()) == want


@pytest.mark.parametrize(("in_use", "count", "budget", "ok"), [
    (3, 1, 4, True),   # 8 - 3 - 1 = 4 free >= 4
    (3, 2, 4, False),  # 8 - 3 - 2 = 3 < 4
    (5, 1, 4, False),  # 3 free already < 4: nothing new goes there
    (5, 3, 0, True),   # no budget: any pod that fits
    (0, 8, 1, False),  # the whole node would leave none of the budget free
])
def test_within_budget_leaves_the_kept_gpus_free(
        in_use: int, count: int, budget: int, ok: bool) -> None:
    state = _state({"a": in_use})
    p = pod("default/s", GpuRequest("whole", count=count))
    assert within_budget(state, p, "a", budget) is ok


def test_a_memo_kept_across_calls_gives_the_same_budgets(monkeypatch: pytest.MonkeyPatch) -> None:
    """One memo per gang, reused while allocations change on the same nodes (the replay's
    use): each answer equals a fresh computation, and once every (node, member, members kept
    there before it) was tried, no filter runs again."""
    import scheduler.policy.gang as gang_module

    profile = default_profile()
    gang = _gang(3, 4)  # 3 x 4 GPUs: two members share a drained 8-GPU node
    busies = [{"a": 6, "b": 2, "c": 4}, {"a": 1, "b": 7, "c": 4}, {"a": 0, "b": 0, "c": 8},
              {"a": 3, "b": 3, "c": 3}]
    nodes = _state(busies[0]).nodes
    states = [ClusterState(nodes, _state(b).allocations) for b in busies]
    memo: dict = {}
    for state in states:
        want = drain_budgets(state, gang, list(nodes), profile)
        assert want  # every case keeps something
        assert drain_budgets(state, gang, list(nodes), profile, memo) == want
    calls: list[str] = []
    real = gang_module.filter_node
    monkeypatch.setattr(gang_module, "filter_node",
                        lambda *a, **k: calls.append(a[2]) or real(*a, **k))
    for state in states:
        drain_budgets(state, gang, list(nodes), profile)
    assert calls  # a fresh computation runs the filters...
    calls.clear()
    for state in states:
        drain_budgets(state, gang, list(nodes), profile, memo)
    assert calls == []  # ...one backed by the memo does not


@settings(max_examples=60, deadline=None)
@given(in_use=st.integers(0, 8), count=st.integers(1, 8), budget=st.integers(0, 8))
def test_a_pod_admitted_within_budget_leaves_the_budget_idle(
        in_use: int, count: int, budget: int) -> None:
    """Whatever a node holds, a whole-GPU pod `within_budget` admits leaves at least `budget`
    of the node's GPUs idle, and one it refuses would not (or does not fit at all)."""
    state = _state({"a": in_use})
    p = pod("default/s", GpuRequest("whole", count=count))
    idle_after = 8 - in_use - count
    assert within_budget(state, p, "a", budget) is (idle_after >= 0 and idle_after >= budget)


@settings(max_examples=40, deadline=None)
@given(busy=st.lists(st.integers(0, 8), min_size=1, max_size=4),
       members=st.integers(1, 4), count=st.sampled_from([1, 2, 4, 8]))
def test_drain_budgets_would_host_the_whole_gang_once_drained(
        busy: list[int], members: int, count: int) -> None:
    """The budgets cover every member (sum = members x count, each at most a node's 8 GPUs),
    or are empty exactly when the drained nodes cannot host the gang."""
    names = [f"n{i}" for i in range(len(busy))]
    state = _state(dict(zip(names, busy, strict=True)))
    got = drain_budgets(state, _gang(members, count), names, default_profile())
    fits_drained = members <= len(names) * (8 // count)
    if not fits_drained:
        assert got == {}
        return
    assert sum(got.values()) == members * count
    assert all(0 < b <= 8 and b % count == 0 for b in got.values())


def _every_node_choice(state: ClusterState, members: list, names: list[str]) -> dict[str, int]:
    """drain_budgets' rule tried on every node for every member (the oracle)."""
    from dataclasses import replace

    from scheduler.policy.framework import Profile, choose_placement, filter_node

    profile = default_profile()
    solo = Profile(tuple(p for p in profile.filters if p.name != "Gang"), ())
    free = {n: sum(1 for g in state.capacity(n).usable_gpus if not g.pods) for n in names}
    busy = {n: len(state.capacity(n).usable_gpus) - free[n] for n in names}
    scratch = ClusterState(state.nodes, MappingProxyType({}), now=state.now)
    kept: dict[str, set[int]] = {}
    size = [m.gpu.count * 1000 if m.gpu.kind != "milli" else m.gpu.milli for m in members]
    for i in sorted(range(len(members)), key=lambda i: (-size[i], i)):
        pod_i = replace(members[i], gang=None)
        best = None
        for rank, n in enumerate(names):
            if not filter_node(scratch, pod_i, n, solo).ok:
                continue
            spot = choose_placement(scratch, pod_i, state.nodes[n])
            if spot is None:
                continue
            had = kept.get(n, set())
            now_ = max(0, len(had | {g.index for g in spot.gpus}) - free[n])
            order = (now_ - max(0, len(had) - free[n]), n not in kept, busy[n], rank)
            if best is None or order < best[0]:
                best = (order, n, spot)
        if best is None:
            return {}
        _, n, spot = best
        kept.setdefault(n, set()).update(g.index for g in spot.gpus)
        key = f"o#{i}"
        scratch = scratch.with_allocations({key: Allocation(pod_i.key, key, spot)})
    return {n: len(g) for n, g in kept.items()}


@settings(max_examples=60, deadline=None)
@given(shape=st.lists(st.tuples(st.sampled_from([2, 4, 8]), st.integers(0, 8)),
                      min_size=1, max_size=6),
       members=st.integers(1, 4), ask=st.sampled_from(["1", "2", "4", "8", "500m"]))
def test_drain_budgets_stop_early_yet_choose_as_if_every_node_was_tried(
        shape: list[tuple[int, int]], members: int, ask: str) -> None:
    """The scan stops once no node left can beat the best found (a bound on each node's
    order); the budgets equal those of trying every node, on nodes of 2, 4 and 8 GPUs."""
    names = [f"n{i}" for i in range(len(shape))]
    nodes = {n: node(n, *(h100(i, uuid=f"GPU-{n}-{i}") for i in range(size)))
             for n, (size, _) in zip(names, shape, strict=True)}
    allocs = {
        f"{n}-{i}": Allocation(f"default/{n}-{i}", f"{n}-{i}",
                               Placement(n, (GpuGrant(i, f"GPU-{n}-{i}"),)))
        for n, (size, used) in zip(names, shape, strict=True) for i in range(min(used, size))
    }
    state = ClusterState(MappingProxyType(nodes), MappingProxyType(allocs))
    ref = GangRef("default/g", members)
    gpu = (GpuRequest("milli", milli=500, memory_mib=1024) if ask == "500m"
           else GpuRequest("whole", count=int(ask)))
    gang = [pod(f"default/g-{i}", gpu, gang=ref) for i in range(members)]
    got = drain_budgets(state, gang, names, default_profile())
    assert got == _every_node_choice(state, gang, names)
