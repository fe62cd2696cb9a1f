"""The twin's models with kube-scheduler's creation-to-bind latency (round 8b)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devcluster.twin.compare import ModelOptions, add_bind_latency, drive, sim_policy, simulate
from devcluster.twin.run import slice_jobs
from simulator.replay.metrics import Recorder
from simulator.workloads.synthetic import generate


def recorder(delays: list[tuple[str, float]], starts: dict[str, float]) -> Recorder:
    rec = Recorder(8000)
    for job, d in delays:
        rec.delays.append(d)
        rec.pod_delays.setdefault(job, []).append(d)
    rec.submit = dict.fromkeys(starts, 0.0)
    rec.job_start = dict(starts)
    return rec


@pytest.mark.parametrize(("pods", "lat", "min_member", "waits", "starts"), [
    # a single pod at 0 s waits its latency: 0 + 10 = 10; its job starts then
    ([("a", 0.0)], [10.0], {"a": 1}, [10.0], {"a": 10.0}),
    # a 2-pod gang decided at 300 s: its pods bind at 300 + 10 and 300 + 16; the gang starts
    # with its 2nd (min_member-th) pod, 316
    ([("b", 300.0), ("b", 300.0)], [10.0, 16.0], {"b": 2}, [310.0, 316.0], {"b": 316.0}),
    # a gang of 3 with min_member 2: the 3rd pod's 22 s does not move the start (300 + 16)
    ([("b", 300.0)] * 3, [10.0, 16.0, 22.0], {"b": 2}, [310.0, 316.0, 322.0], {"b": 316.0}),
    # pods of two jobs in one decision, interleaved: each job's own pods are counted
    ([("a", 5.0), ("b", 0.0), ("a", 5.0)], [1.0, 2.0, 3.0], {"a": 2, "b": 1},
     [6.0, 2.0, 8.0], {"a": 8.0, "b": 2.0}),
    # zero latency: nothing moves
    ([("a", 7.0)], [0.0], {"a": 1}, [7.0], {"a": 7.0}),
])  # fmt: skip
def test_each_pod_waits_its_latency_and_a_job_starts_with_its_min_member_th_pod(
        pods, lat, min_member, waits, starts):  # fmt: skip
    rec = recorder(pods, {j: max(d for k, d in pods if k == j) for j, _ in pods})
    add_bind_latency(rec, [j for j, _ in pods], lat, min_member)
    assert rec.delays == pytest.approx(waits)
    assert {j: d for j, d in zip([j for j, _ in pods], waits, strict=True)} == {
        j: rec.pod_delays[j][-1] for j in rec.pod_delays}  # fmt: skip
    assert rec.job_start == pytest.approx(starts)


def test_the_200_job_models_median_pod_waits_the_measured_latency():
    """Round 8: the model bound at the instant of its decision and more than half of the
    200-job slice's pods fit at arrival, so its p50 wait was 0 on every seed against 18.5-62.9
    trace s in five real runs. With kube-scheduler's measured latency (9.9 + 6.0 x k trace s
    for the k-th pod of a decision at speedup 300, log-normal sigma 0.5) the median pod waits
    it: above 0 and under the 2 x 30 s tolerance band on seeds 0-1. Fails on the code before
    (0 s)."""
    w = generate(seed=0, jobs=200, nodes=16, mig_nodes=4)
    for seed in (0, 1):
        on = simulate("tessera", w, seed, 300.0)
        off = simulate("tessera", w, seed, 300.0, ModelOptions(bind_latency=False))
        p50 = on.metrics["queue_delay_s"]["p50"]  # type: ignore[index]
        assert off.metrics["queue_delay_s"]["p50"] == 0.0  # type: ignore[index]
        assert 5.0 < p50 < 90.0
        # the decisions are the same: the same work in the same span
        assert on.metrics["allocated_pct_mean"] == off.metrics["allocated_pct_mean"]
        assert on.gangs_done == off.gangs_done


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 50), st.integers(0, 3), st.sampled_from(["tessera", "default"]))
def test_the_latency_only_lengthens_waits_and_changes_no_decision(wseed, seed, scheduler):
    """With or without the latency the model makes the same decisions (the draws come from
    their own random stream): the same jobs end at the same times, and each pod of each job
    waits no less with it."""
    w = slice_jobs(generate(seed=wseed, jobs=12, nodes=2, mig_nodes=1), 12)
    on = drive(sim_policy(scheduler, w, seed, 300.0), w, seed)
    off = drive(sim_policy(scheduler, w, seed, 300.0, ModelOptions(bind_latency=False)), w, seed)
    assert on.job_end == off.job_end
    assert on.demand_area == off.demand_area
    assert on.pod_delays.keys() == off.pod_delays.keys()
    for job, waits in off.pod_delays.items():
        assert all(a >= b for a, b in zip(on.pod_delays[job], waits, strict=True))
