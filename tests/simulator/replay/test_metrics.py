"""Useful vs held allocation and per-class waits, hand-computed on tiny traces."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.policy.model import GpuRequest
from simulator.policies.replay.registry import REPLAY_POLICIES
from simulator.replay.driver import replay
from simulator.workloads.model import JobSpec, NodeSpec, TaskSpec, Workload
from simulator.workloads.synthetic import generate

GiB = 1024**3


def _run(jobs: list[JobSpec], policy: str, nodes: int = 1) -> dict:
    cluster = tuple(NodeSpec(f"n{i}", "H100-80GB", 8, 96_000, 1024 * GiB) for i in range(nodes))
    w = Workload("tiny", cluster, tuple(jobs), "test")
    return replay(w, REPLAY_POLICIES[policy](w, 0), debug=True).metrics


def _job(uid: str, arrival: float, duration: float, gpu: GpuRequest, replicas: int = 1,
         min_member: int = 1, kind: str = "training") -> JobSpec:
    return JobSpec(uid, arrival, duration, TaskSpec(1_000, GiB, gpu), replicas, min_member, kind)


HALF_PLACED = [
    _job("blocker", 0, 100, GpuRequest("whole", count=4), kind="inference"),
    _job("gang", 10, 50, GpuRequest("whole", count=4), replicas=2, min_member=2),
]


def test_half_placed_gang_holds_without_being_useful() -> None:
    # One 8-GPU node (8,000 milli). kube-default places pods one by one: blocker (4 GPUs) runs
    # 0..100; the gang's first member takes the other 4 GPUs at 10 and waits; its second fits
    # only when blocker leaves at 100; the gang runs 100..150. Span 0..150.
    m = _run(HALF_PLACED, "kube-default")
    # useful: blocker 4000 x 100 + gang 8000 x 50 = 800,000 -> / 150 / 8000 = 66.667 %
    assert m["useful_pct_mean"] == pytest.approx(66.667)
    # held: + the first member's wait 4000 x 90 = 360,000 -> 1,160,000 / 1,200,000 = 96.667 %
    assert m["held_pct_mean"] == pytest.approx(96.667)
    assert m["held_waiting_pct_mean"] == pytest.approx(30.0)  # 360,000 / 1,200,000
    assert m["held_rounding_pct_mean"] == 0.0
    # Job waits: blocker 0, gang 100 - 10 = 90. Per class: inference 0, training 90.
    assert m["job_wait_s"]["p99"] == 90.0
    assert m["by_class"]["training"]["job_wait_s"]["p50"] == 90.0
    assert m["by_class"]["inference"]["job_wait_s"]["p99"] == 0.0
    # JCT: blocker 100, gang 150 - 10 = 140.
    assert m["by_class"]["training"]["jct_s"]["mean"] == 140.0


def test_all_or_nothing_gang_holds_nothing_while_it_waits() -> None:
    # tessera places the gang whole at 100 (both members at once): nothing held while waiting;
    # useful is the same work over the same span.
    m = _run(HALF_PLACED, "tessera")
    assert m["useful_pct_mean"] == pytest.approx(66.667)
    assert m["held_pct_mean"] == pytest.approx(66.667)
    assert m["held_waiting_pct_mean"] == 0.0
    assert m["by_class"]["training"]["job_wait_s"]["p99"] == 90.0


def test_whole_card_given_to_a_share_is_held_not_useful() -> None:
    # A 250-milli share for 100 s. kube-default counts it as one nvidia.com/gpu: holds 1000.
    # Span 100 s on 8,000 milli: useful 250 x 100 / 800,000 = 3.125 %, held 1000 x 100 = 12.5 %.
    share = [_job("s", 0, 100, GpuRequest("milli", milli=250), kind="inference")]
    kd = _run(share, "kube-default")
    assert (kd["useful_pct_mean"], kd["held_pct_mean"]) == (3.125, 12.5)
    assert kd["held_rounding_pct_mean"] == 9.375
    ts = _run(share, "tessera")  # the exact share: nothing rounded up
    assert (ts["useful_pct_mean"], ts["held_pct_mean"], ts["held_rounding_pct_mean"]) == (
        3.125, 3.125, 0.0)


def test_a_waiting_gang_keeps_its_nodes_from_a_stream_of_small_jobs() -> None:
    # Two 8-GPU nodes. One-GPU jobs arrive every 60 s, each for 100 s, so without a reservation
    # some GPU is always busy until the stream ends. The gang (2 x 8 GPUs) arrives at 30, when
    # s0 (0..100) is running. tessera keeps both nodes for it from then on: s1 (arrives 60)
    # waits; s0 leaves at 100 and the gang runs 100..200; then the waiting small jobs start.
    small = [_job(f"s{k}", 60.0 * k, 100, GpuRequest("whole", count=1), kind="inference")
             for k in range(6)]
    gang = _job("g", 30, 100, GpuRequest("whole", count=8), replicas=2, min_member=2)
    m = _run([*small, gang], "tessera", nodes=2)
    assert m["by_class"]["training"]["job_wait_s"]["p50"] == 70.0  # 100 - 30
    # s1 (60), s2 (120), s3 (180) start at 200 when the gang leaves: waits 140, 80, 20;
    # s4 (240) and s5 (300) start on arrival.
    waits = sorted([0.0, 140.0, 80.0, 20.0, 0.0, 0.0])
    assert m["by_class"]["inference"]["job_wait_s"]["p50"] == waits[2]
    assert m["by_class"]["inference"]["job_wait_s"]["p99"] == 140.0
    assert m["unfinished"] == 0


def test_higher_priority_pods_are_not_kept_off_a_gangs_nodes() -> None:
    # The same stream at priority 10 (the gang is 0): the kept nodes do not stop them, so the
    # gang waits until the stream ends (s5 leaves at 300 + 100 = 400): wait 400 - 30 = 370.
    small = [JobSpec(f"s{k}", 60.0 * k, 100, TaskSpec(1_000, GiB, GpuRequest("whole", count=1)),
                     kind="inference", priority=10) for k in range(6)]
    gang = _job("g", 30, 100, GpuRequest("whole", count=8), replicas=2, min_member=2)
    m = _run([*small, gang], "tessera", nodes=2)
    assert m["by_class"]["training"]["job_wait_s"]["p50"] == 370.0
    assert m["by_class"]["inference"]["job_wait_s"]["p99"] == 0.0


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), policy=st.sampled_from(["tessera", "kube-default", "volcano"]))
def test_held_is_useful_plus_waiting_plus_rounding(seed: int, policy: str) -> None:
    # One sentence: everything bound is useful work, held by a waiting gang, or rounded up.
    w = generate(seed, 25, 2, 1, 120.0)
    m = replay(w, REPLAY_POLICIES[policy](w, seed)).metrics
    parts = m["useful_pct_mean"] + m["held_waiting_pct_mean"] + m["held_rounding_pct_mean"]
    assert m["held_pct_mean"] == pytest.approx(parts, abs=0.005)  # each rounded to 0.001
    assert 0.0 <= m["useful_pct_mean"] <= m["allocated_pct_mean"] + 0.001
    assert min(m["held_waiting_pct_mean"], m["held_rounding_pct_mean"]) >= -0.001
    started = sum(c["started"] for c in m["by_class"].values())
    assert started <= m["jobs"]
