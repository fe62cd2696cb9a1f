"""Serving simulation: hand-computed queueing and packing on one GPU, invariants on random
traces (hypothesis), and byte-identical JSON per seed."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.policies.replay.registry import make_replay_policy
from simulator.serving.config import Autoscale, ServingSpec
from simulator.serving.requests import Request
from simulator.serving.sim import TICK, Outcome, ServingRun, serve, serving_cluster
from simulator.serving.study import run_serving, serving_json
from simulator.workloads.model import Workload

# 4 x 16 GiB fit on one 80 GB H100 (4 x 20 GiB would not: the card has 79.6 GiB)
ONE_GPU = ServingSpec(nodes=1, gpus_per_node=1, replica_gpu="milli:250",
                      replica_gpu_memory_mib=16 * 1024, slo_wait_s=20.0)
EAGER = Autoscale(target_queue=1, interval_s=10.0, cooldown_s=300.0, cold_start_s=10.0)


def _four_at_zero() -> list[Request]:
    return [Request(0.0, 100.0, "sd", "image", None) for _ in range(4)]


@pytest.mark.parametrize(("policy", "starts", "gpu_hours"), [
    # a 250-milli share: four replicas fit on the one GPU; all placed at t=0 (the first by the
    # activator, three more at the t=0 tick: 4 queued / target 1), ready at 10 s, serve at once;
    # idle from 110 s, removed at the first tick >= 110 + 300 = 410 s: 4 x 0.25 x 410 s
    ("tessera", [10.0, 10.0, 10.0, 10.0], 4 * 0.25 * 410 / 3600),
    # the device plugin has no shares: one replica holds the whole card, the others stay
    # pending; requests run one after another from 10 s: 10, 110, 210, 310; the replica idles
    # from 410 s and goes at 710 s: 1 x 710 s
    ("kube-default", [10.0, 110.0, 210.0, 310.0], 710 / 3600),
    ("volcano", [10.0, 110.0, 210.0, 310.0], 710 / 3600),
])
def test_packing_shows_up_as_wait_and_gpu_hours(policy: str, starts: list[float],
                                                gpu_hours: float) -> None:
    reqs = _four_at_zero()
    out = serve(reqs, ONE_GPU, EAGER, policy)
    assert sorted(out.start) == starts
    held = sum((b - a) * m / 1000 for _, a, b, m in out.replica_spans) / 3600
    assert held == pytest.approx(gpu_hours)
    res = run_serving(reqs, ONE_GPU, EAGER, policy, "four.csv")
    # SLO 20 s on the wait: tessera meets it for all four, the others for the first only
    assert res.summary["slo_misses"] == (0 if policy == "tessera" else 3)


def test_scale_to_zero_pays_the_cold_start_again() -> None:
    reqs = [Request(0.0, 5.0, "m", "text", None), Request(1000.0, 5.0, "m", "text", None)]
    out = serve(reqs, ONE_GPU, EAGER, "tessera")
    # second request: the replica was removed at the tick >= 5 + 300, so a new one loads
    assert out.start == [10.0, 1010.0] and out.cold_starts == 2


_req = st.builds(Request, arrival_s=st.integers(0, 600).map(float),
                 exec_s=st.integers(1, 120).map(float), model=st.sampled_from("abc"),
                 modality=st.sampled_from(["text", "image"]), slo_wait_s=st.none())


@settings(max_examples=40, deadline=None)
@given(reqs=st.lists(_req, min_size=1, max_size=25),
       policy=st.sampled_from(["tessera", "volcano", "kube-default"]),
       gpus=st.integers(1, 3))
def test_every_request_served_after_arrival_within_gpu_capacity(
        reqs: list[Request], policy: str, gpus: int) -> None:
    reqs = sorted(reqs, key=lambda q: (q.arrival_s, q.model))
    out = serve(reqs, ServingSpec(nodes=1, gpus_per_node=gpus), EAGER, policy)
    assert not any(math.isnan(s) for s in out.start)  # max_replicas >= 1: all served
    for q, s, e in zip(reqs, out.start, out.end, strict=True):
        assert s >= q.arrival_s
        assert e == s + q.exec_s
    # GPU capacity never exceeded: placed replicas x held milli <= GPUs x 1000 at any instant
    events = sorted([(a, m) for _, a, _, m in out.replica_spans]
                    + [(b, -m) for _, _, b, m in out.replica_spans], key=lambda x: (x[0], x[1]))
    level = 0
    for _, delta in events:
        level += delta
        assert level <= gpus * 1000


def test_same_seed_same_json() -> None:
    reqs = [Request(float(t), 30.0, f"m{t % 3}", "image", None) for t in range(0, 900, 7)]
    spec = ServingSpec(nodes=1, gpus_per_node=2)
    a = serving_json([run_serving(reqs, spec, Autoscale(), "kube-default", "x", seed=3)])
    b = serving_json([run_serving(reqs, spec, Autoscale(), "kube-default", "x", seed=3)])
    assert a == b


def test_replicas_that_never_fit_end_the_run_unserved() -> None:
    # a MIG replica on a cluster without MIG GPUs can never be placed: the run must end with
    # the request unserved (it looped on autoscaler ticks before)
    reqs = [Request(0.0, 5.0, "m", "text", None, "mig:1g.10gb")]
    out = serve(reqs, ServingSpec(nodes=1, gpus_per_node=1), EAGER, "tessera")
    assert math.isnan(out.start[0]) and out.replica_spans == []


class _EveryTickPlaces(ServingRun):
    """Test stand-in: the scheduling pass runs on every tick (no skipping of unchanged
    states), the behaviour before the skip was added."""

    @property
    def changed(self) -> bool:
        return True

    @changed.setter
    def changed(self, value: bool) -> None:
        pass


@pytest.mark.parametrize("policy", ["tessera", "volcano", "kube-default"])
def test_skipping_unchanged_passes_changes_no_result(policy: str) -> None:
    # 6 models on one 1-GPU node, requests every 5-25 s for an hour: replicas queue for the
    # card most of the time, so most ticks find nothing changed since the last pass
    reqs = [Request(float(t), 20.0 + (t % 7), f"m{t % 6}", "image", None, "whole:1")
            for t in range(0, 3600, 5) if t % 25 in (0, 5, 15)]
    spec = ServingSpec(nodes=1, gpus_per_node=1)
    nodes = serving_cluster(spec)
    outs = []
    for run in (ServingRun, _EveryTickPlaces):
        p = make_replay_policy(policy, Workload("serving", nodes, (), "serving"), 0)
        outs.append(run(reqs, spec, Autoscale(cold_start_s=10.0), p).run())
    assert outs[0] == outs[1]
    assert sum(math.isnan(s) for s in outs[0].start) < len(reqs)  # something was served


class _TicksOn(ServingRun):
    """Test stand-in: the autoscaler keeps ticking every interval up to `horizon` after the run
    would have ended (the behaviour before a settled run ended: with min_replicas >= 1 it
    ticked for ever), then the replicas still held are removed at the last tick."""

    horizon = 0.0
    ticked = False

    def tick(self, now: float) -> None:
        self.ticked = False
        super().tick(now)
        if not self.ticked and now + self.scale.interval_s <= self.horizon:
            self.push(now + self.scale.interval_s, TICK, None)

    def push(self, t: float, kind: int, payload: object) -> None:
        self.ticked = self.ticked or kind == TICK
        super().push(t, kind, payload)


def _ticked_on(reqs: list[Request], spec: ServingSpec, scale: Autoscale, policy: str,
               horizon: float) -> Outcome:
    p = make_replay_policy(policy, Workload("serving", serving_cluster(spec), (), "serving"), 0)
    run = _TicksOn(reqs, spec, scale, p)
    run.horizon = horizon
    return run.run()


def test_min_replicas_run_ends_once_settled() -> None:
    # one request at 0 s and one at 100 s, two models, min_replicas 1 (it ticked for ever):
    # a: placed at 0, ready at 10 (cold start), served 10-15; b: placed at 100, ready at 110,
    # served 110-115; both keep their one replica (min 1), so the first tick after the last
    # request ends, 120 s, finds nothing to do again: the run ends there, replicas held to it
    reqs = [Request(0.0, 5.0, "a", "image", None), Request(100.0, 5.0, "b", "image", None)]
    out = serve(reqs, ONE_GPU, replace(EAGER, min_replicas=1), "tessera")
    assert out.start == [10.0, 110.0] and out.end_s == 120.0
    assert out.replica_spans == [("a", 0.0, 120.0, 250), ("b", 100.0, 120.0, 250)]


@settings(max_examples=40, deadline=None)
@given(reqs=st.lists(_req, min_size=1, max_size=25),
       policy=st.sampled_from(["tessera", "volcano", "kube-default"]),
       gpus=st.integers(1, 3), min_replicas=st.integers(0, 2))
def test_ending_a_settled_run_changes_no_result(reqs: list[Request], policy: str, gpus: int,
                                                min_replicas: int) -> None:
    # a run ends when it settles; ticking on for another hour after it changes no request's
    # start or end, no cold start, no replica placed or removed before the end: only the end
    # time of the replicas still held (those min_replicas keeps) moves with the last tick
    reqs = sorted(reqs, key=lambda q: (q.arrival_s, q.model))
    spec = ServingSpec(nodes=1, gpus_per_node=gpus)
    scale = replace(EAGER, min_replicas=min_replicas)
    out = serve(reqs, spec, scale, policy)
    on = _ticked_on(reqs, spec, scale, policy, out.end_s + 3600)
    assert on.end_s >= out.end_s + 3600 - scale.interval_s
    assert (on.start, on.end, on.cold_starts) == (out.start, out.end, out.cold_starts)
    assert [(m, a, out.end_s if b == on.end_s else b, h) for m, a, b, h in on.replica_spans] \
        == out.replica_spans
    assert [p for p in on.replica_series if p[0] < out.end_s] \
        == [p for p in out.replica_series if p[0] < out.end_s]
    if min_replicas == 0:  # nothing held at the end: the same outcome, end time aside
        assert on.replica_spans == out.replica_spans
