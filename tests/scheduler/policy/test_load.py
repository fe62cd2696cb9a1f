"""GpuLoad score: headroom for latency pods, packing for batch, neutral when telemetry is stale."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.policy.framework import run_scores
from scheduler.policy.model import ClusterState
from scheduler.policy.plugins.load import NEUTRAL, LoadScore, LoadSettings, fresh_load
from scheduler.policy.registry import default_profile
from tests.builders import pod
from tests.scheduler.policy.telemetry_builders import (
    H100_MIB,
    NOW,
    gpu,
    held,
    mig,
    node,
    share,
    state,
    whole,
)


@pytest.mark.parametrize(
    ("util", "mem_mib", "age_s", "expected"),
    [
        (None, None, 0.0, None),  # no reading
        (37.0, None, 0.0, 0.37),
        (37.0, H100_MIB // 2, 0.0, 0.5),  # max(0.37, 40779/81559 = 0.49999) ~ 0.5
        (0.0, 1490, 0.0, 1490 / H100_MIB),  # the recorded matmul fb_used: 1490 MiB
        (99.0, None, 120.0, 0.99),  # exactly max_age old: still fresh
        (99.0, None, 120.1, None),  # older than max_age: unknown, not idle
        (float("nan"), None, 0.0, None),  # NaN utilisation is unknown
        (99.0, None, -300.0, 0.99),  # stamped FUTURE_SKEW_S ahead: clock skew, still fresh
        (99.0, None, -300.1, None),  # further ahead: not a reading (it would never go stale)
        (99.0, None, -1e9, None),  # a forged year-2050 stamp
    ],
)
def test_fresh_load_table(
    util: float | None, mem_mib: int | None, age_s: float, expected: float | None
) -> None:
    got = fresh_load(gpu(0, util=util, mem_mib=mem_mib, age_s=age_s), NOW, 120.0)
    assert got == (None if expected is None else pytest.approx(expected, abs=1e-4))


def _two_nodes(util_a: float | None, util_b: float | None, age_s: float = 0.0) -> ClusterState:
    return state(
        node("a", gpu(0, util=util_a, age_s=age_s)), node("b", gpu(0, util=util_b, age_s=age_s))
    )


def test_latency_pod_prefers_headroom() -> None:
    st_ = _two_nodes(100.0, 0.0)  # recorded matmul steady state vs idle
    ls = LoadScore()
    a = ls.score(st_, whole(qos="latency"), st_.nodes["a"])
    b = ls.score(st_, whole(qos="latency"), st_.nodes["b"])
    assert (a, b) == (pytest.approx(0.0), pytest.approx(1.0))


def test_batch_pod_prefers_packing_onto_busy_gpus() -> None:
    st_ = _two_nodes(100.0, 0.0)
    ls = LoadScore()
    assert ls.score(st_, whole(qos="batch"), st_.nodes["a"]) > ls.score(
        st_, whole(qos="batch"), st_.nodes["b"]
    )


def test_default_qos_is_latency() -> None:
    st_ = _two_nodes(80.0, 20.0)
    assert LoadScore().score(st_, whole(), st_.nodes["a"]) == pytest.approx(0.2)
    batch_default = LoadScore(LoadSettings(default_qos="batch"))
    assert batch_default.score(st_, whole(), st_.nodes["a"]) == pytest.approx(0.8)


def test_stale_or_missing_load_is_neutral() -> None:
    stale = _two_nodes(100.0, 0.0, age_s=121.0)
    missing = _two_nodes(None, None)
    for st_ in (stale, missing):
        for name in ("a", "b"):
            assert LoadScore().score(st_, whole(), st_.nodes[name]) == NEUTRAL


def test_ledger_is_a_floor_under_live_load() -> None:
    # GPU 0 holds a 600-milli share (ledger 0.6) but metrics still say 10 %: busy = 0.6.
    n = node("a", gpu(0, util=10.0))
    st_ = state(n, allocations={"x": held("x", "a", 0, milli=600)})
    assert LoadScore().score(st_, share(300), n) == pytest.approx(0.4)


def test_mig_requests_never_use_live_load() -> None:
    st_ = state(node("a", gpu(0, util=100.0, mig=True)), node("b", gpu(0, util=0.0, mig=True)))
    ls = LoadScore()
    assert ls.score(st_, mig(), st_.nodes["a"]) == NEUTRAL
    assert ls.score(st_, mig(), st_.nodes["b"]) == NEUTRAL


def test_loaded_node_scores_lower_in_the_default_profile() -> None:
    st_ = _two_nodes(100.0, 0.0)
    scores = run_scores(st_, whole(), ["a", "b"], default_profile())
    assert scores["a"] < scores["b"]
    stale = _two_nodes(100.0, 0.0, age_s=500.0)
    scores = run_scores(stale, whole(), ["a", "b"], default_profile())
    assert scores["a"] == scores["b"]  # allocation alone decides, and it is the same


@given(st.floats(0, 100), st.floats(0, 100), st.sampled_from(["latency", "batch"]))
def test_score_is_monotone_in_load(u1: float, u2: float, qos: str) -> None:
    """Property: more load never raises a latency score and never lowers a batch score."""
    st_ = _two_nodes(u1, u2)
    ls = LoadScore()
    s1 = ls.score(st_, whole(qos=qos), st_.nodes["a"])  # type: ignore[arg-type]
    s2 = ls.score(st_, whole(qos=qos), st_.nodes["b"])  # type: ignore[arg-type]
    assert 0.0 <= s1 <= 1.0 and 0.0 <= s2 <= 1.0
    if u1 > u2:
        assert (s1 <= s2) if qos == "latency" else (s1 >= s2)


@given(st.lists(st.one_of(st.none(), st.floats(0, 100)), min_size=1, max_size=5),
       st.sampled_from(["latency", "batch"]))  # fmt: skip
def test_batch_load_equals_the_per_node_value_with_few_reporting(
    utils: list[float | None], qos: str
) -> None:
    """Property: the batch value (its cheap exit taken only when no GPU of the fleet reports a
    load) equals the per-node value on every node, also when one node alone reports."""
    from scheduler.policy.interfaces import CycleState

    st_ = state(*(node(f"n{i}", gpu(0, util=u)) for i, u in enumerate(utils)))
    ls, p = LoadScore(), whole(qos=qos)  # type: ignore[arg-type]
    names = sorted(st_.nodes)
    got = ls.score_rows(CycleState(st_, p, names))
    assert got is not None
    assert got.tolist() == [ls.score(st_, p, st_.nodes[n]) for n in names]


def _with_and_without_the_candidates_exit(
    utils: list[float | None], pick: list[int], max_age: float, cpu_only: bool
) -> tuple[list[float], list[float]]:
    """`score_rows` over the picked nodes (a node without GPUs beside the fleet's), as it is
    and with its candidates-only exit (`_none_live`) switched off (the fleet-wide path)."""
    from scheduler.policy.interfaces import CycleState
    from tests.builders import pod

    st_ = state(*(node(f"n{i}", gpu(0, util=u)) for i, u in enumerate(utils)), node("bare"))
    names = ["bare", *(f"n{i}" for i in pick if i < len(utils))]
    ls = LoadScore(LoadSettings(max_age_s=max_age))
    p = pod() if cpu_only else whole()
    got = ls.score_rows(CycleState(st_, p, names))
    ls._none_live = lambda idx, r: False  # type: ignore[method-assign]
    want = ls.score_rows(CycleState(st_, p, names))
    assert got is not None and want is not None
    return got.tolist(), want.tolist()


@given(st.lists(st.one_of(st.none(), st.floats(0, 100)), min_size=1, max_size=4),
       st.lists(st.integers(0, 3), max_size=4), st.sampled_from([120.0, float("inf")]),
       st.booleans())  # fmt: skip
def test_the_candidates_exit_answers_as_the_fleet_wide_path(
    utils: list[float | None], pick: list[int], max_age: float, cpu_only: bool
) -> None:
    """Property: with or without the exit taken when no candidate has a reading, every
    candidate gets the same value (readings on other nodes, finite or infinite age), and it
    is the per-node `score` of its node (round 12: a node without readings at an infinite
    age was 0.0 in the batch, NEUTRAL per node)."""
    got, want = _with_and_without_the_candidates_exit(utils, pick, max_age, cpu_only)
    assert got == want
    st_ = state(*(node(f"n{i}", gpu(0, util=u)) for i, u in enumerate(utils)), node("bare"))
    names = ["bare", *(f"n{i}" for i in pick if i < len(utils))]
    ls, p = LoadScore(LoadSettings(max_age_s=max_age)), pod() if cpu_only else whole()
    assert got == [ls.score(st_, p, st_.nodes[n]) for n in names]


def test_a_node_without_readings_is_neutral_at_an_infinite_age() -> None:
    """At an infinite `max_age_s` a row without readings is not live: its newest reading, -inf,
    is no reading (inf - -inf <= inf made it live, and the batch path scored a node without
    usable GPUs 0.0 where the per-node path says NEUTRAL; round 12). Both paths agree."""
    got, want = _with_and_without_the_candidates_exit([50.0], [], float("inf"), True)
    assert got == want == [NEUTRAL]

