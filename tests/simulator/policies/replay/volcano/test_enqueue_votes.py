"""The enqueue votes as the vendored source casts them (proportion.go OnSessionOpen /
JobEnqueueableFn, overcommit.go OnSessionOpen), and job priority without PriorityClasses.

proportion: minReq + allocated + inqueue - elastic <= realCapability on minReq's resources, where
an Inqueue job (and a Running one with at least minMember tasks allocated) holds
max(0, minResources - allocated) (`GetInqueueResource`) and every job's
max(0, allocated - minResources) is elastic (`GetElasticResources`).
overcommit: inqueue + minReq <= total x 1.2 - used, a Running job's unallocated minimum counted
only when at least minMember of its tasks are allocated.
"""

from __future__ import annotations

import random

import pytest

from scheduler.policy.model import GpuRequest
from simulator.cluster.resources import GPU, MILLI
from simulator.policies.replay.volcano import JobPhase, TaskStatus, VolcanoConfig
from simulator.policies.replay.volcano.enqueue import Overcommit, _proportion_permits
from simulator.policies.replay.volcano.objects import Job, Queue
from simulator.policies.replay.volcano.policy import VolcanoPolicy
from simulator.policies.replay.volcano.proportion import build
from simulator.workloads.model import JobSpec, NodeSpec, TaskSpec

from .builders import GiB, job, node, req

# (uid, phase, replicas, min_member, GPUs per task, tasks Running, tasks Succeeded)
Held = tuple[str, JobPhase, int, int, int, int, int]


def _held(spec: Held) -> Job:
    uid, phase, replicas, min_member, gpus, running, succeeded = spec
    j = job(uid, replicas, min_member=min_member, resreq=req(gpus=gpus),
            min_resources={GPU: min_member * gpus * MILLI})  # fmt: skip
    j.phase = phase
    tasks = list(j.tasks.values())
    for t in tasks[:running]:
        t.status = TaskStatus.RUNNING
    for t in tasks[running:running + succeeded]:
        t.status = TaskStatus.SUCCEEDED
    return j


# Queue capability 16 GPUs on a 32-GPU cluster: the proportion vote, not overcommit, decides.
@pytest.mark.parametrize(
    ("held", "min_gpus", "permit"),
    [
        # e: 6 x 2 GPUs Running, minMember 1 -> allocated 12, elastic 12 - 2 = 10, inqueue 0.
        # 8 + 12 + 0 - 10 = 10 <= 16: permit (without the elastic term 20 > 16: reject).
        ([("e", JobPhase.RUNNING, 6, 1, 2, 6, 0)], 8, True),
        # h: Inqueue gang 2 x 4 GPUs, both Running (its phase lags a session) -> allocated 8,
        # inqueue max(0, 8 - 8) = 0. 8 + 8 + 0 = 16 <= 16: permit (counting its whole
        # minResources as inqueue: 8 + 8 + 8 = 24 > 16: reject).
        ([("h", JobPhase.INQUEUE, 2, 2, 4, 2, 0)], 8, True),
        # h admitted, not placed: inqueue 8. 12 + 0 + 8 = 20 > 16: reject.
        ([("h", JobPhase.INQUEUE, 2, 2, 4, 0, 0)], 12, False),
        # g: Running gang 2 x 4 with 1 Running, 1 Succeeded -> allocated 4; 1 allocated task <
        # minMember 2, so no inqueue; elastic max(0, 4 - 8) = 0. 12 + 4 = 16 <= 16: permit.
        ([("g", JobPhase.RUNNING, 2, 2, 4, 1, 1)], 12, True),
        # e and h together: allocated 12 + 8 = 20, inqueue 0, elastic 10.
        # 6 + 20 - 10 = 16 <= 16: permit; 7 + 20 - 10 = 17 > 16: reject.
        ([("e", JobPhase.RUNNING, 6, 1, 2, 6, 0), ("h", JobPhase.INQUEUE, 2, 2, 4, 2, 0)], 6,
         True),
        ([("e", JobPhase.RUNNING, 6, 1, 2, 6, 0), ("h", JobPhase.INQUEUE, 2, 2, 4, 2, 0)], 7,
         False),
    ],
)
def test_proportion_vote_deducts_allocated_and_subtracts_elastic(
        held: list[Held], min_gpus: int, permit: bool) -> None:  # fmt: skip
    jobs = [_held(h) for h in held]
    total = {GPU: 32 * MILLI}
    attrs = build({"default": Queue("default", capability={GPU: 16 * MILLI})}, jobs, total)
    cand = job("c", 1, resreq=req(gpus=min_gpus), min_resources={GPU: min_gpus * MILLI})
    assert _proportion_permits(cand, attrs["default"]) is permit


@pytest.mark.parametrize(
    ("running", "succeeded", "min_gpus", "permit"),
    [
        # 2 nodes x 8 GPUs: idle = 16 x 1.2 - used. g: Running gang 2 x 4 GPUs.
        # 1 Running + 1 Succeeded: used 4, 1 allocated task < minMember 2 -> inqueue 0;
        # 12 <= 19.2 - 4 = 15.2: permit (counting max(0, 8 - 4) = 4: 16 > 15.2, reject).
        (1, 1, 12, True),
        # Both Running: used 8, 2 >= 2 -> inqueue max(0, 8 - 8) = 0; 11 <= 11.2: permit.
        (2, 0, 11, True),
        # 12 > 11.2: reject.
        (2, 0, 12, False),
    ],
)
def test_overcommit_counts_a_running_job_only_with_min_member_allocated(
        running: int, succeeded: int, min_gpus: int, permit: bool) -> None:  # fmt: skip
    nodes = {"n0": node("n0"), "n1": node("n1")}
    g = _held(("g", JobPhase.RUNNING, 2, 2, 4, running, succeeded))
    for t in g.tasks.values():
        if t.status is TaskStatus.RUNNING:
            t.node = "n0"
            nodes["n0"].add_task(t)
    total = {GPU: 16 * MILLI}
    over = Overcommit(VolcanoConfig(), nodes, {"g": g}, total)
    cand = job("c", 1, resreq=req(gpus=min_gpus), min_resources={GPU: min_gpus * MILLI})
    assert over.permit(cand) is permit


def _eight(uid: str, priority: int) -> JobSpec:
    return JobSpec(uid, 0, 10, TaskSpec(1_000, GiB, GpuRequest("whole", count=8)),
                   priority=priority)


@pytest.mark.parametrize(
    ("classes", "first", "priorities"),
    [
        # The trace's priority as a PriorityClass: "b" (10) goes before "a" (0).
        (True, "b", {"a": 0, "b": 10}),
        # No PriorityClass (the twin's pods): both at 0, same creation second -> UID order.
        (False, "a", {"a": 0, "b": 0}),
    ],
)
def test_priority_reaches_volcano_only_through_a_priority_class(
        classes: bool, first: str, priorities: dict[str, int]) -> None:  # fmt: skip
    nodes = (NodeSpec("n0", "H100-80GB", 8, 32_000, 256 * GiB),)  # room for one of the two
    p = VolcanoPolicy(nodes, random.Random(0), VolcanoConfig(priority_classes=classes))
    p.submit(_eight("b", 10), 0.2)
    p.submit(_eight("a", 0), 0.7)
    assert {u: j.priority for u, j in p.sched.jobs.items()} == priorities
    assert {t.priority for j in p.sched.jobs.values() for t in j.tasks.values()} == set(
        priorities.values())
    assert [s.job for s in p.schedule(1.0)] == [first]
