"""The simulated cluster: ClusterState views, incremental indexes, device-plugin counters."""

from __future__ import annotations

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from scheduler.policy.capacity import NodeCapacity
from scheduler.policy.fleet_index import STATE_FIELDS, FleetIndex
from scheduler.policy.model import GpuGrant, GpuRequest, Placement
from simulator.cluster.counters import held_milli, node_counters, request_counters
from simulator.cluster.state import SimCluster
from simulator.workloads.model import TaskSpec
from simulator.workloads.synthetic import cluster

ops = st.lists(
    st.tuples(st.integers(0, 2), st.integers(0, 7), st.sampled_from([None, 250, 500])), max_size=12
)


@settings(max_examples=30, deadline=None)
@given(ops=ops)
def test_incremental_views_equal_a_fresh_build(ops: list[tuple[int, int, int | None]]) -> None:
    c = SimCluster(cluster(3, 0))
    c.snapshot(0.0).fleet()
    for k, (n, g, milli) in enumerate(ops):
        uid = f"p{k}"
        grant = GpuGrant(g, milli=milli, memory_mib=0 if milli else None)
        c.bind(uid, Placement(f"h100-00{n}", (grant,)), 0, 0)
        if k % 3 == 2:
            c.release(f"p{k - 1}")
        s = c.snapshot(float(k))
        for name in c.order:  # the memoised capacity equals one built from scratch
            fresh = NodeCapacity.build(c.nodes[name], s.allocations_on(name))
            assert [x.free_milli for x in s.capacity(name).gpus] == [
                x.free_milli for x in fresh.gpus
            ]
        # The fleet index updated from the previous view's equals a full build.
        built = FleetIndex.build(s.capacity(name) for name in c.order)
        assert np.array_equal(s.fleet().plain_free[: len(c.order)], built.plain_free)


def test_counters_follow_the_device_plugin() -> None:
    spec = cluster(1, 1)[0]  # 8 GPUs, 4 of them MIG 1g.10gb x2 + 2g.20gb + 3g.40gb
    counters = node_counters(spec)
    # 4 plain GPUs -> 4000 milli; per MIG GPU two 1g.10gb -> 4 GPUs x 2 = 8 devices.
    assert counters["nvidia.com/gpu"] == 4000
    assert counters["nvidia.com/mig-1g.10gb"] == 8000
    assert counters["nvidia.com/mig-3g.40gb"] == 4000
    share = TaskSpec(1000, 1, GpuRequest("milli", milli=300))
    assert request_counters(share)["nvidia.com/gpu"] == 1000  # a share takes a whole card
    mig = request_counters(TaskSpec(1000, 1, GpuRequest("mig", profile="3g.40gb")))
    assert held_milli(mig) == 500  # 4 of 8 memory slices


moves = st.lists(st.tuples(st.sampled_from(["bind", "bind", "bind", "release", "look",
                                            "snapshot"]),
                           st.integers(0, 2), st.integers(0, 7),
                           st.sampled_from([None, 100, 250, 500, 700, ("1g.10gb", 0),
                                            ("3g.40gb", 4), ("2g.20gb", 2)]),
                           st.sampled_from([0, 1000, 40000])),
                 max_size=30)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(moves=moves, mig=st.integers(0, 2), dynamic=st.booleans())
@example(
    moves=[
        ("bind", 0, 0, 500, 0),
        ("snapshot", 0, 0, None, 0),
        ("release", 0, 0, None, 0),
        ("look", 0, 0, None, 0),
        ("bind", 0, 1, 250, 0),
        ("snapshot", 0, 0, None, 0),
    ],
    mig=0,
    dynamic=False,
)  # a released node's view asked, then a quick bind: its row is two changes behind
@example(
    moves=[
        ("bind", 2, 5, 500, 0),
        ("snapshot", 0, 0, None, 0),
        ("bind", 2, 0, ("1g.10gb", 0), 0),
        ("snapshot", 0, 0, None, 0),
    ],
    mig=1,
    dynamic=True,
)  # a MIG instance after a share: the row's MIG cells are redone, not only its shares
def test_views_and_rows_after_quick_binds_equal_a_fresh_build(moves, mig, dynamic) -> None:  # type: ignore[no-untyped-def]
    """Property: after any sequence of binds (shares, whole GPUs and MIG instances, some on the
    wrong kind of GPU, some overbooking), releases and snapshots, each memoised view
    (`with_allocation` / `without_allocation` where a change allows it) equals
    `NodeCapacity.build`, and the fleet index refreshed in place (only the changed GPUs'
    cells where the views allow it: `refresh`'s `shares`; views also asked between
    snapshots) equals a full build, every column, bit for bit."""
    c = SimCluster(cluster(3, mig), dynamic_mig=dynamic)
    s = c.snapshot(0.0)
    s.fleet()
    live: list[str] = []
    for k, (op, n, g, milli, cpu) in enumerate(moves):
        if op == "bind":
            if isinstance(milli, tuple):
                grant = GpuGrant(g, profile=milli[0], start=milli[1])
            else:
                grant = GpuGrant(g, milli=milli, memory_mib=0 if milli else None)
            uid = f"p{(k * 7919) % 97:02d}"  # UIDs out of order: `build` charges by UID
            if uid in c.allocations:
                continue
            c.bind(uid, Placement(c.order[n], (grant,)), cpu, 0)
            live.append(uid)
            continue
        if op == "release" and live:
            c.release(live.pop(g % len(live)))
            continue
        if op == "look":  # a node's view asked of the live snapshot before the next one
            s.capacity(c.order[n])
            continue
        s = c.snapshot(float(k))
        for name in c.order:
            assert s.capacity(name) == NodeCapacity.build(c.nodes[name], s.allocations_on(name))
        built = FleetIndex.build(s.capacity(name) for name in c.order)
        idx = s.fleet()
        for f in STATE_FIELDS:
            assert getattr(idx, f).tobytes() == getattr(built, f).tobytes(), f
        for f in ("static_free", "static_total", "pool_free"):
            assert {k: v.tolist() for k, v in getattr(idx, f).items() if v.any()} == {
                k: v.tolist() for k, v in getattr(built, f).items() if v.any()
            }, f


@settings(max_examples=40, deadline=None)
@given(
    binds=st.lists(st.tuples(st.integers(0, 2), st.integers(0, 64_000)), max_size=8),
    asks=st.lists(
        st.tuples(st.integers(0, 128_000), st.integers(0, 1 << 40)), min_size=1, max_size=3
    ),
    only=st.one_of(st.none(), st.sets(st.integers(0, 2))),
    exclude=st.sets(st.integers(0, 2)),
)
def test_hosts_are_the_nodes_fits_host_passes_in_order(
    binds: list[tuple[int, int]],
    asks: list[tuple[int, int]],
    only: set[int] | None,
    exclude: set[int],
) -> None:
    c = SimCluster(cluster(3, 0))
    for k, (n, cpu) in enumerate(binds):
        c.bind(f"p{k}", Placement(c.order[n], ()), cpu, cpu << 20)
    names = None if only is None else {c.order[i] for i in only}
    out = {c.order[i] for i in exclude}
    want = [
        n
        for n in c.order
        if (names is None or n in names)
        and n not in out
        and any(c.fits_host(n, cpu, mem) for cpu, mem in asks)
    ]
    assert c.hosts(asks, names, out) == want


@settings(max_examples=40, deadline=None)
@given(
    binds=st.lists(st.tuples(st.integers(0, 2), st.integers(0, 64_000)), max_size=8),
    asks=st.lists(st.tuples(st.integers(0, 256_000), st.integers(0, 1 << 41)), max_size=3),
)
def test_hosts_drained_read_capacity_not_use(
    binds: list[tuple[int, int]], asks: list[tuple[int, int]]
) -> None:
    c = SimCluster(cluster(3, 0))
    want = [n for n in c.order if any(
        cpu <= c.nodes[n].cpu_milli and mem <= c.nodes[n].memory_bytes for cpu, mem in asks
    )]  # fmt: skip
    assert c.hosts_drained(asks) == want
    for k, (n, cpu) in enumerate(binds):  # what is in use does not change the answer
        c.bind(f"p{k}", Placement(c.order[n], ()), cpu, cpu << 20)
    assert c.hosts_drained(asks) == want
