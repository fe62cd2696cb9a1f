"""kube-default: LeastAllocated + BalancedAllocation on device-plugin counters, no gang."""

from __future__ import annotations

import random

from scheduler.policy.model import GpuRequest
from simulator.policies.replay.kube_default import KubeDefaultPolicy, least_allocated
from simulator.workloads.model import JobSpec, NodeSpec, TaskSpec

GiB = 1024**3


def test_least_allocated_table() -> None:
    alloc = {"cpu": 10_000, "memory": 100 * GiB}
    # cpu (10000-2000-2000)*100//10000 = 60, memory (100-10-40)*100//100 = 50 -> (60+50)//2 = 55
    assert least_allocated(alloc, {"cpu": 2_000, "memory": 10 * GiB},
                           {"cpu": 2_000, "memory": 40 * GiB}) == 55
    assert least_allocated(alloc, {}, {"cpu": 20_000}) == 50  # cpu overflows -> 0; memory 100


def test_spreads_to_the_emptier_node_and_ignores_gangs() -> None:
    nodes = tuple(NodeSpec(f"n{i}", "H100-80GB", 8, 32_000, 256 * GiB) for i in range(2))
    p = KubeDefaultPolicy(nodes, random.Random(0))
    big = JobSpec("big", 0, 10, TaskSpec(16_000, 128 * GiB, GpuRequest("whole", count=1)))
    p.submit(big, 0)
    first = p.schedule(0)
    small = JobSpec("s", 0, 10, TaskSpec(1_000, GiB, GpuRequest("whole", count=1)))
    p.submit(small, 0)
    second = p.schedule(0)
    assert first[0].node != second[0].node  # least allocated: the untouched node wins
    gang = JobSpec("g", 0, 10, TaskSpec(1_000, GiB, GpuRequest("whole", count=8)), 3, 3)
    p.submit(gang, 0)
    # No gang: members start one by one while 8-GPU room lasts (n0 and n1 each have 7 free).
    assert p.schedule(0) == []
    p.finish("big", 1)
    assert [s.job for s in p.schedule(1)] == ["g"]  # one member of three starts alone
