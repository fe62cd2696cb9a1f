"""Jobs that arrive within one creationTimestamp second are taken in UID order, not arrival."""

from __future__ import annotations

import random

import pytest

from scheduler.policy.model import GpuRequest
from simulator.policies.replay.volcano.config import VolcanoConfig
from simulator.policies.replay.volcano.policy import VolcanoPolicy
from simulator.workloads.model import JobSpec, NodeSpec, TaskSpec

GiB = 1024**3


def _full_node_job(uid: str) -> JobSpec:
    return JobSpec(uid, 0, 10, TaskSpec(1_000, GiB, GpuRequest("whole", count=8)))


@pytest.mark.parametrize(
    ("b_at", "a_at", "resolution", "first"),
    [
        (0.2, 0.7, 1.0, "a"),  # same second: "a" < "b"
        (0.2, 1.2, 1.0, "b"),  # b's second is earlier
        (0.2, 0.7, 0.0, "b"),  # exact clocks (resolution 0): arrival order
        (30.0, 70.0, 100.0, "a"),  # a twin at speedup 100: one wall second = 100 trace s
    ],
)
def test_one_session_takes_jobs_by_creation_second_then_uid(b_at, a_at, resolution,
                                                            first) -> None:  # fmt: skip
    nodes = (NodeSpec("n0", "H100-80GB", 8, 32_000, 256 * GiB),)
    cfg = VolcanoConfig(timestamp_resolution_s=resolution)
    p = VolcanoPolicy(nodes, random.Random(0), cfg)
    p.submit(_full_node_job("b"), b_at)
    p.submit(_full_node_job("a"), a_at)
    assert [s.job for s in p.schedule(max(a_at, b_at) + 0.1)] == [first]
