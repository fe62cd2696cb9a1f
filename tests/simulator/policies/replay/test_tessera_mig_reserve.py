"""The tessera replay keeps the MIG window reserve (`scheduler.policy.plugins.mig_reserve`):
a low-priority notebook may not carve the last free 3g.40gb window that a service asks for,
so the next service starts at once instead of waiting for the notebook to finish."""

from __future__ import annotations

from dataclasses import replace

import pytest

from scheduler.policy.model import GpuRequest
from scheduler.policy.registry import default_profile
from simulator.policies.replay.tessera import TesseraPolicy
from simulator.workloads.model import JobSpec, NodeSpec, TaskSpec

GIB = 1 << 30
# One node, one H100 with MIG on and no instances (dynamic): two 3g.40gb windows when empty.
NODE = NodeSpec("m-0", "H100-80GB", 1, 64_000, 512 * GIB, mig_gpus=1)
PROFILE = default_profile()
WITHOUT = replace(PROFILE, filters=tuple(f for f in PROFILE.filters if f.name != "MigReserve"))


def _job(uid: str, t: float, profile: str, priority: int) -> JobSpec:
    task = TaskSpec(2_000, 16 * GIB, GpuRequest("mig", 1, profile))
    return JobSpec(uid, t, 3_600, task, priority=priority)


def _started(policy: TesseraPolicy, job: JobSpec) -> list[str]:
    policy.submit(job, job.arrival)
    return [s.job for s in policy.schedule(job.arrival)]


@pytest.mark.parametrize(("profile", "reserved"), [(PROFILE, True), (WITHOUT, False)])
def test_the_second_service_finds_its_window(profile, reserved) -> None:
    # svc1 takes one 3g window; demand seen: one 3g at priority 10, one 1g at priority 0 ->
    # kept = ceil(1/2 x 2 windows) = 1: the notebook would leave 0 free, so it waits, and svc2
    # (priority 10, nothing asked above it) takes the window. Without the reserve the
    # notebook carves it and svc2 waits for the notebook's hour.
    policy = TesseraPolicy((NODE,), dynamic_mig=True, profile=profile)
    assert _started(policy, _job("svc1", 0.0, "3g.40gb", 10)) == ["svc1"]
    nb = _started(policy, _job("nb", 1.0, "1g.10gb", 0))
    svc2 = _started(policy, _job("svc2", 2.0, "3g.40gb", 10))
    assert (nb, svc2) == (([], ["svc2"]) if reserved else (["nb"], []))
    assert policy.check() is None  # no slice double-booked
