"""The simulated cluster: ClusterState views, incremental indexes, device-plugin counters."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.policy.capacity import NodeCapacity
from scheduler.policy.fleet_index import FleetIndex
from scheduler.policy.model import GpuGrant, GpuRequest, Placement
from simulator.cluster.counters import held_milli, node_counters, request_counters
from simulator.cluster.state import SimCluster
from simulator.workloads.model import TaskSpec
from simulator.workloads.synthetic import cluster

ops = st.lists(st.tuples(st.integers(0, 2), st.integers(0, 7), st.sampled_from([None, 250, 500])),
               max_size=12)


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
                x.free_milli for x in fresh.gpus]
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
