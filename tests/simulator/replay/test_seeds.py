"""Seed studies: the 95 % interval, best-or-tie verdicts, the printed table (hand-computed)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.replay.seeds import interval, summarize, t975, table, verdict


def test_interval_is_students_t_over_the_seeds() -> None:
    # values 1..5: mean 3, sample sd sqrt(2.5) = 1.5811; t(0.975, 4) = 2.776;
    # half = 2.776 * 1.5811 / sqrt(5) = 1.963.
    got = interval([1.0, 2.0, 3.0, 4.0, 5.0])
    assert (got["n"], got["mean"], got["half"]) == (5, 3.0, 1.963)
    assert (got["low"], got["high"]) == (1.037, 4.963)
    assert interval([7.0])["half"] == 0.0  # one value: no interval
    assert t975(2) == 12.706 and t975(100) == 1.96
    with pytest.raises(ValueError):
        interval([])


def _stat(mean: float, half: float) -> dict[str, float]:
    return {"mean": mean, "half": half, "low": mean - half, "high": mean + half}


@pytest.mark.parametrize(("stats", "better", "best", "tied"), [
    # a (10 +/- 1) vs b (7 +/- 1): [9, 11] and [6, 8] do not overlap -> a best.
    ({"a": _stat(10, 1), "b": _stat(7, 1)}, "max", "a", []),
    # a (10 +/- 2) vs b (7 +/- 2): [8, 12] and [5, 9] overlap -> tie.
    ({"a": _stat(10, 2), "b": _stat(7, 2)}, "max", "a", ["b"]),
    # lower is better: b best, c (4 +/- 0.5 = [3.5, 4.5]) overlaps b's [2, 4]; a does not.
    ({"a": _stat(10, 1), "b": _stat(3, 1), "c": _stat(4, 0.5)}, "min", "b", ["c"]),
])
def test_verdict_marks_the_best_and_every_overlapping_policy_as_tied(
        stats: dict, better: str, best: str, tied: list[str]) -> None:
    v = verdict(stats, better)
    assert (v["best"], v["tied"]) == (best, tied)
    assert v["winners"] == sorted([best, *tied])


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.sampled_from("abcd"),
                       st.tuples(st.floats(-1e6, 1e6), st.floats(0, 1e4)), min_size=1))
def test_best_has_the_best_mean_and_ties_overlap_it(raw: dict) -> None:
    stats = {p: _stat(m, h) for p, (m, h) in raw.items()}
    for better, pick in (("max", max), ("min", min)):
        v = verdict(stats, better)
        assert stats[v["best"]]["mean"] == pick(s["mean"] for s in stats.values())
        b = stats[v["best"]]
        for p, s in stats.items():
            overlaps = s["low"] <= b["high"] and b["low"] <= s["high"]
            assert (p in v["tied"]) == (overlaps and p != v["best"])


def test_summary_and_table_over_two_policies() -> None:
    def run(useful: float, p99: float) -> dict:
        return {"useful_pct_mean": useful, "job_wait_s": {"p99": p99},
                "by_class": {"training": {"job_wait_s": {"p99": p99}}}}

    runs = {"x": [run(60, 100), run(62, 110), run(61, 90)],
            "y": [run(50, 100), run(51, 300), run(52, 200)]}
    s = summarize(runs)
    # useful: x 61 +/- 4.303 * 1 / sqrt(3) = 2.484 -> [58.5, 63.5]; y 51 +/- 2.484: apart.
    assert s["metrics"]["useful_pct"]["verdict"]["winners"] == ["x"]
    # p99 wait: x 100 +/- 24.8, y 200 +/- 248.4: overlap -> a tie, x (lower mean) best.
    v = s["metrics"]["job_wait_p99_s"]["verdict"]
    assert (v["best"], v["tied"]) == ("x", ["y"])
    assert s["by_class"]["training"]["job_wait_p99_s"]["verdict"]["tied"] == ["y"]
    text = table("tiny", s)
    assert "61.0 +/- 2.5*" in text and "51.0 +/- 2.5 " in text
    assert "tie: x, y" in text and "x best" in text
