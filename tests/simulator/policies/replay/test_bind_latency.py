"""kube-scheduler's creation-to-bind latency per pod (`KubeHost`, (7); round 8b)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.policies.replay.kube_host import (
    KUBE_BIND_LATENCY,
    TESSERA_BIND_LATENCY,
    BindLatency,
    KubeHost,
)


@pytest.mark.parametrize(("lat", "n", "want"), [
    (BindLatency(), 3, [0.0, 0.0, 0.0]),  # none: every pod binds at the decision
    (BindLatency(10.0, 0.0), 2, [10.0, 10.0]),  # no queue: each pod the same
    # the k-th pod (from 0) waits first + k x per_pod: 10, 10 + 6 = 16, 10 + 2 x 6 = 22
    (BindLatency(10.0, 6.0), 3, [10.0, 16.0, 22.0]),
    (BindLatency(0.0, 5.0), 3, [0.0, 5.0, 10.0]),  # 0, 0 + 5, 0 + 2 x 5
    (BindLatency(10.0, 6.0), 0, []),
])  # fmt: skip
def test_the_kth_pod_of_a_decision_waits_first_plus_k_per_pod(lat, n, want):
    assert lat.draws(random.Random(0), n) == pytest.approx(want)


@pytest.mark.parametrize(("lat", "speedup", "want"), [
    # Tessera at the 200-job slice's speedup 300: 0.033 s x 300 = 9.9 trace s for the first
    # pod, 0.020 s x 300 = 6.0 for each one after it (the measured 9.8 + 6.0 x k)
    (TESSERA_BIND_LATENCY, 300.0, (9.9, 6.0, 0.5)),
    # kube-scheduler alone: 0.021 x 300 = 6.3, 0.012 x 300 = 3.6 (measured 6.3 + 3.5 x k)
    (KUBE_BIND_LATENCY, 300.0, (6.3, 3.6, 0.5)),
    # Tiresias at speedup 20: 0.033 x 20 = 0.66, 0.020 x 20 = 0.4 trace s
    (TESSERA_BIND_LATENCY, 20.0, (0.66, 0.4, 0.5)),
])  # fmt: skip
def test_wall_seconds_become_trace_seconds_at_the_speedup(lat, speedup, want):
    host = KubeHost.scaled(speedup, 0, bind_latency=lat)
    got = host.bind_latency
    assert (got.first_s, got.per_pod_s, got.sigma) == pytest.approx(want)


def test_the_default_host_has_no_latency_and_draws_nothing():
    host = KubeHost.scaled(300.0, 7)
    before = host.latency_rng.getstate()
    assert host.bind_latencies(4) == [0.0] * 4
    assert host.latency_rng.getstate() == before


def test_the_latency_stream_is_not_the_tie_break_stream():
    """The draws come from `latency_rng`, so the tie-breaks drawn from `rng` are the same
    with or without the latency."""
    on = KubeHost.scaled(300.0, 3, bind_latency=TESSERA_BIND_LATENCY)
    off = KubeHost.scaled(300.0, 3)
    on.bind_latencies(50)
    assert on.rng.getstate() == off.rng.getstate()


@settings(max_examples=200, deadline=None)
@given(st.floats(0, 100), st.floats(0, 50), st.floats(0, 2), st.integers(0, 10_000),
       st.integers(0, 20))  # fmt: skip
def test_the_draws_for_a_seed_are_reproducible_and_never_negative(first, per_pod, sigma, seed,
                                                                 n):  # fmt: skip
    lat = BindLatency(first, per_pod, sigma)
    a = KubeHost.scaled(1.0, seed, bind_latency=lat).bind_latencies(n)
    b = KubeHost.scaled(1.0, seed, bind_latency=lat).bind_latencies(n)
    assert a == b and len(a) == n
    assert all(x >= 0.0 for x in a)
    if sigma == 0:
        assert a == pytest.approx([first + k * per_pod for k in range(n)])
