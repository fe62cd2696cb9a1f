"""Replay wait CDFs in the report come from every wait sample, not three quantiles."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from simulator.policies.replay.registry import make_replay_policy
from simulator.replay.driver import replay
from simulator.report.from_replay import CDF_POINTS, cdf_points, replay_report
from simulator.workloads.synthetic import from_spec


@given(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=500))
def test_cdf_points_are_the_empirical_cdf(samples: list[float]) -> None:
    values = sorted(samples)
    n = len(values)
    points = cdf_points(values)
    assert len(points) == min(n, CDF_POINTS)  # every sample when there are few, else thinned
    assert points[-1] == (values[-1], 1.0)
    for v, q in points:  # q = k/n for the k-th smallest sample v: between F(v-) and F(v)
        assert sum(x < v for x in values) / n < q <= sum(x <= v for x in values) / n + 1e-4
    assert [q for _, q in points] == sorted({q for _, q in points})


def test_replay_carries_every_wait_and_the_report_draws_them() -> None:
    w = from_spec("synthetic:jobs=30,nodes=2,mig_nodes=1,mean_interarrival_s=60", seed=2)
    r = replay(w, make_replay_policy("kube-default", w, 2), seed=2)
    # one sample per pod started, and one per started job, split by class
    started_jobs = sum(m["started"] for m in r.metrics["by_class"].values())
    assert sum(len(v) for k, v in r.waits.items() if k.startswith("jobs/")) == started_jobs
    assert len(r.waits["pods"]) >= started_jobs
    assert all(v == sorted(v) for v in r.waits.values())
    rows = replay_report([r]).datasets["replay_waits"]
    assert len(rows) == min(len(r.waits["pods"]), CDF_POINTS) > 3
    assert rows[-1]["wait_s"] == r.waits["pods"][-1] and rows[-1]["quantile"] == 1.0
