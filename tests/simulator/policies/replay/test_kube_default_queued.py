"""kube-default-queued: kube-default retrying its waiting pods in kube-scheduler's queue order."""

from __future__ import annotations

import random

import pytest

from scheduler.policy.model import GpuRequest
from simulator.policies.replay.kube_default import KubeDefaultPolicy
from simulator.policies.replay.kube_default_queued import KubeDefaultQueuedPolicy
from simulator.policies.replay.kube_host import KubeHost
from simulator.workloads.model import JobSpec, NodeSpec, TaskSpec

GiB = 1024**3
NODE = (NodeSpec("n0", "H100-80GB", 1, 32_000, 256 * GiB),)  # one GPU: the pods contest it


def job(uid: str, gpus: int = 1) -> JobSpec:
    gpu = GpuRequest("whole", count=gpus) if gpus else None
    return JobSpec(uid, 0, 10, TaskSpec(1_000, GiB, gpu))


def first_to_start(policy: KubeDefaultPolicy, b_arrives: float) -> str:
    """x holds the GPU from 0 to 100; a arrives at 0 and fails; at `b_arrives` the CPU-only
    pod y leaves (a retry pass: a fails again) and b arrives (fails); x leaves at 100: who
    starts on the freed GPU?"""
    policy.submit(job("x"), 0)
    policy.submit(job("y", gpus=0), 0)
    assert sorted(s.job for s in policy.schedule(0)) == ["x", "y"]
    policy.submit(job("a"), 0)
    assert policy.schedule(0) == []
    policy.finish("y", b_arrives)
    policy.submit(job("b"), b_arrives)
    assert policy.schedule(b_arrives) == []
    policy.finish("x", 100)
    started = policy.schedule(100)
    assert len(started) == 1  # one GPU
    return started[0].job


@pytest.mark.parametrize(
    ("b_arrives", "plain", "queued"),
    [
        # a failed at 0 and 99.5 (2 fails: backoff 2 s, expiry 101.5 -> window 101), b at 99.5
        # (1 fail: 1 s, 100.5 -> 100); at 100 neither backoff is over (100 is not < 100), so
        # the backoff queue by expiry: b (100) before a (101). Plain: a arrived first.
        (99.5, "a", "b"),
        # b at 50: a's expiry 50 + 2 = 52, b's 50 + 1 = 51, both < 100: the active queue by
        # last failure (both 50), then UID: a. Both orders agree.
        (50.0, "a", "a"),
        # b at 98.5: a 98.5 + 2 = 100.5 -> 100, b 99.5 -> 99 < 100: b is active, a backs off.
        (98.5, "a", "b"),
    ],
)
def test_a_pod_that_failed_more_waits_behind_a_newer_one(b_arrives: float, plain: str,
                                                          queued: str) -> None:  # fmt: skip
    assert first_to_start(KubeDefaultPolicy(NODE, random.Random(0)), b_arrives) == plain
    host = KubeHost(random.Random(0))  # backoff 1 s initial, 10 s max, 1 s window
    got = first_to_start(KubeDefaultQueuedPolicy(NODE, random.Random(0), host), b_arrives)
    assert got == queued


def test_the_host_given_is_not_changed() -> None:
    host = KubeHost(random.Random(0))
    KubeDefaultQueuedPolicy(NODE, random.Random(0), host)
    assert host.backoff_order is False  # the policy takes the order on a copy
