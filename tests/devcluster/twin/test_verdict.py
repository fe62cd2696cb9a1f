"""The twin's verdict against the model's range over seeds (`devcluster.twin.verdict`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devcluster.twin.compare import (
    IN_RANGE,
    JUDGED_METRICS,
    OUT,
    REPORTED_METRICS,
    WITHIN_TOLERANCE,
    Spread,
    range_verdict,
    seed_spread,
    tolerance,
)
from devcluster.twin.run import MODEL_SEEDS, parse_model_seeds
from devcluster.twin.verdict import Comparison, Row, judge, table
from simulator.workloads.synthetic import generate

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(("metric", "seeds", "real", "off", "word"), [
    # Useful allocation, seeds 60.0-64.0 %: 2 pp at each end -> [58.0, 66.0].
    ("allocated_pct_mean", [60.0, 63.0, 64.0], 62.0, 0.0, IN_RANGE),
    ("allocated_pct_mean", [60.0, 63.0, 64.0], 58.5, -1.5, WITHIN_TOLERANCE),  # 1.5 pp below
    ("allocated_pct_mean", [60.0, 63.0, 64.0], 57.9, -2.1, OUT),  # 2.1 pp below the min
    ("allocated_pct_mean", [60.0, 63.0, 64.0], 66.0, 2.0, WITHIN_TOLERANCE),  # the edge
    ("allocated_pct_mean", [60.0, 63.0, 64.0], 66.1, 2.1, OUT),
    ("held_pct_mean", [50.0, 51.0], 48.5, -1.5, WITHIN_TOLERANCE),  # held: 2 pp as well
    # p50 wait, seeds 300-500 s: low end 300 - max(0.15 x 300 = 45, 30) = 255; high end
    # 500 + max(75, 30) = 575.
    ("queue_delay_s.p50", [300.0, 420.0, 500.0], 260.0, -40.0, WITHIN_TOLERANCE),
    ("queue_delay_s.p50", [300.0, 420.0, 500.0], 254.0, -46.0, OUT),
    ("queue_delay_s.p50", [300.0, 420.0, 500.0], 575.0, 75.0, WITHIN_TOLERANCE),
    ("queue_delay_s.p50", [300.0, 420.0, 500.0], 576.0, 76.0, OUT),
    # p95 wait, seeds 0-10 s: the 30 s floor at the high end (15 % of 10 is 1.5) -> 40.
    ("queue_delay_s.p95", [0.0, 10.0], 40.0, 30.0, WITHIN_TOLERANCE),
    ("queue_delay_s.p95", [0.0, 10.0], 40.5, 30.5, OUT),
    # One seed: the seed-0 verdict. 9,000 +- 1,350 (15 %): 10,300 is 1,300 above -> within.
    ("queue_delay_s.p95", [9_000.0], 10_300.0, 1_300.0, WITHIN_TOLERANCE),
    ("queue_delay_s.p95", [9_000.0], 10_400.0, 1_400.0, OUT),
    ("queue_delay_s.p95", [9_000.0], 9_000.0, 0.0, IN_RANGE),
])  # fmt: skip
def test_a_judged_metric_against_the_seeds_range(metric, seeds, real, off, word):
    row = Row(metric, real, seeds)
    assert row.off == pytest.approx(off)
    assert row.verdict == word
    assert row.ok is (word != OUT)
    assert range_verdict(metric, min(seeds), max(seeds), real) == word


def test_a_reported_metric_shows_the_range_and_no_verdict():
    # JCT seeds 100-300 s, real 500: 200 s above the max, but JCT is reported, not judged.
    row = Row("jct_s.mean", 500.0, [100.0, 200.0, 300.0], judged=False)
    assert (row.lo, row.median, row.hi, row.off) == (100.0, 200.0, 300.0, 200.0)
    assert row.verdict is None and row.ok is None and row.tolerance is None


finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
metrics = st.sampled_from(JUDGED_METRICS)


@given(metrics, st.lists(finite, min_size=1, max_size=20), st.floats(0.0, 1.0))
def test_a_real_value_inside_the_seeds_range_is_never_out(metric, seeds, at):
    real = min(seeds) + at * (max(seeds) - min(seeds))
    real = min(max(real, min(seeds)), max(seeds))  # float rounding stays inside
    row = Row(metric, real, seeds)
    assert row.verdict == IN_RANGE and row.ok and row.off == 0.0


@given(metrics, finite, finite)
def test_one_seed_gives_exactly_the_seed_0_verdict(metric, sim, real):
    # The verdict before the range (commit 209ab08, `compare.Row.ok`): |real - sim| within the
    # tolerance at sim, plus 1e-9.
    seed_0 = abs(real - sim) <= tolerance(metric, sim) + 1e-9
    assert Row(metric, real, [sim]).ok is seed_0


@given(metrics, st.lists(finite, min_size=1, max_size=10), finite, finite)
def test_another_seed_never_turns_a_pass_out(metric, seeds, extra, real):
    if Row(metric, real, seeds).ok:
        assert Row(metric, real, [*seeds, extra]).ok


def comparison(real_gangs: set[str], seed_gangs: list[set[str]]) -> Comparison:
    return Comparison("volcano", "volcano", gangs_real=real_gangs,
                      gang_sets=[frozenset(g) for g in seed_gangs],
                      seeds=list(range(len(seed_gangs))))  # fmt: skip


@pytest.mark.parametrize(("real", "seeds", "word", "same_as_seed_0"), [
    ({"a", "b"}, [{"a", "b"}], IN_RANGE, True),
    ({"a", "b"}, [{"a"}, {"a", "b"}], IN_RANGE, False),  # seed 1's gangs
    ({"a", "c"}, [{"a", "b"}, {"a"}], OUT, False),  # as many as seed 0 has, other gangs
    ({"a", "c"}, [{"a", "b"}], OUT, False),  # one seed: the seed-0 rule, the same gangs
])  # fmt: skip
def test_gangs_pass_when_the_real_run_completed_one_seeds_gangs(real, seeds, word,
                                                                 same_as_seed_0):  # fmt: skip
    c = comparison(real, seeds)
    assert c.gangs_verdict == word
    assert c.same_gangs is same_as_seed_0
    assert c.ok is (word != OUT)


@given(st.sets(st.sampled_from("abcd")), st.sets(st.sampled_from("abcd")))
def test_one_seed_gives_the_seed_0_gang_rule(real, sim):
    assert comparison(real, [sim]).ok is (real == sim)


def test_the_verdict_over_a_models_own_seeds():
    """The model's first seed, taken as the real run, is in range on every metric over the
    seeds 0-2, and on one seed; its rows carry the seeds' values, the first seed's first."""
    w = generate(seed=3, jobs=8, nodes=2, mig_nodes=0)
    sp = seed_spread("default", w, [0, 1, 2], 100.0)
    assert sp.first is not None and sp.wall_s > 0
    assert len(sp.gang_sets) == 3 and sp.gangs == [len(g) for g in sp.gang_sets]
    real = sp.first.metrics
    c = judge("default", "kube-default", real, sp, set(sp.first.gangs_done), 12.0)
    assert [r.metric for r in c.rows] == [*JUDGED_METRICS, *REPORTED_METRICS]
    assert all(r.verdict in (IN_RANGE, None) and len(r.seeds) == 3 for r in c.rows)
    assert all(r.sim == r.seeds[0] for r in c.rows)
    assert c.ok and c.gangs_verdict == IN_RANGE
    doc = json.loads(json.dumps(c.to_json()))  # twin.json and --json carry it as it is
    assert doc["model_seeds"] == [0, 1, 2] and doc["ok"] is True
    useful = doc["metrics"]["allocated_pct_mean"]
    assert set(useful) >= {"real", "sim", "min", "median", "max", "off_range", "verdict", "ok"}
    assert useful["verdict"] == IN_RANGE and useful["seeds"] == 3
    assert doc["metrics"]["jct_s.mean"]["verdict"] is None
    text = table([c])
    assert "on 3 seeds (0-2)" in text and "seed 0" in text and "WITHIN" in text


def test_the_table_names_an_out_metric_and_its_tolerance():
    # p95 seeds 1,000-2,000 s, real 2,400: 400 above the max, tolerance at 2,000 is 300 -> OUT.
    values = {k: [1_000.0, 2_000.0] for k in (*JUDGED_METRICS, *REPORTED_METRICS)}
    sp = Spread("volcano", [4, 5], values, [0, 0], [frozenset(), frozenset()])
    real = {"allocated_pct_mean": 1_500.0, "held_pct_mean": 1_500.0,
            "queue_delay_s": {"p50": 1_500.0, "p95": 2_400.0}, "jct_s": {"mean": 1.0, "p95": 1.0},
            "gang_wait_s": {"mean": 1.0}, "finished": 1.0, "makespan_s": 1.0}  # fmt: skip
    c = judge("volcano", "volcano", real, sp, set())
    text = table([c])
    line = next(x for x in text.splitlines() if "queue_delay_s.p95" in x)
    assert "+400.00" in line and "OUT (tol 300.0)" in line
    assert "on 2 seeds (4-5): OUTSIDE" in text and "seed 4" in text


@pytest.mark.parametrize(("text", "want"), [("1", 1), (" 20", 20), (7, 7)])
def test_model_seeds_parses_a_whole_number(text, want):
    assert parse_model_seeds(text) == want


@pytest.mark.parametrize(("text", "says"), [
    ("0", "--model-seeds 0: must be >= 1"),
    ("-3", "--model-seeds -3: must be >= 1"),
    ("ten", "--model-seeds 'ten': want a whole number >= 1"),
    ("2.5", "--model-seeds '2.5': want a whole number >= 1"),
])  # fmt: skip
def test_twin_run_bad_model_seeds_exit_2_with_one_line(text, says):
    from typer.testing import CliRunner

    from cli.main import app

    trace = "synthetic:jobs=5,nodes=2,mig_nodes=1"
    res = CliRunner().invoke(app, ["twin", "run", "--trace", trace, "--model-seeds", text])
    assert res.exit_code == 2
    lines = [x for x in (res.stderr or res.output).splitlines() if x.strip()]
    assert len(lines) == 1 and says in lines[0], lines


def test_the_cli_default_is_the_twins_default():
    import inspect

    from cli.twin import run_cmd

    option = inspect.signature(run_cmd).parameters["model_seeds"].default
    assert option.default == str(MODEL_SEEDS)


@pytest.mark.parametrize("text", ["0", "x"])
def test_the_benchmarks_bad_model_seeds_exit_2_with_one_line(text):
    res = subprocess.run([sys.executable, str(REPO / "benchmarks" / "twin.py"), "--model-seeds",
                          text, "--workload", "synthetic20", "--schedulers", "default"],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert res.returncode == 2
    lines = [x for x in res.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "--model-seeds" in lines[0], lines


def test_a_saved_real_run_is_judged_again_from_its_twin_json(tmp_path):
    """`benchmarks/twin.py --model-seeds N --real twin.json`: the saved run's verdict, its gangs
    from the placements.json beside it. Here the 'real' run is the model's seed 0, with the pods
    of the gangs it completed bound: within on seeds 0-1; with one of those gangs' pods left
    out of the placements (gangs no seed completed), OUT."""
    from simulator.workloads.traces import load

    # benchmarks/twin.py's synthetic20: this slice at speedup 100.
    w, speedup = load("synthetic:seed=1,jobs=20,nodes=4,mig_nodes=1"), 100.0
    sp = seed_spread("default", w, [0, 1], speedup)
    assert sp.first is not None
    (tmp_path / "twin.json").write_text(json.dumps(
        {"speedup": speedup, "real": {"default": sp.first.metrics}}))  # fmt: skip
    done = sp.gang_sets[0]
    pods = {f"{j.uid}/{i}": {"bound": 1.0} for j in w.jobs for i in range(j.replicas)
            if j.min_member == 1 or j.uid in done}  # fmt: skip
    gang = next(j for j in w.jobs if j.uid in done)
    assert done - {gang.uid} not in sp.gang_sets  # dropping it leaves gangs no seed completed

    def verdict_line() -> str:
        res = subprocess.run([sys.executable, str(REPO / "benchmarks" / "twin.py"),
                              "--model-seeds", "2", "--workload", "synthetic20", "--schedulers",
                              "default", "--real", str(tmp_path / "twin.json")],
                             capture_output=True, text=True, timeout=300)  # fmt: skip
        assert res.returncode == 0, res.stderr
        return next(x for x in res.stdout.splitlines() if "vs kube-default-queued on 2 seeds" in x)

    (tmp_path / "placements.json").write_text(json.dumps({"default": pods}))
    assert "WITHIN" in verdict_line()
    for i in range(gang.replicas):
        del pods[f"{gang.uid}/{i}"]
    (tmp_path / "placements.json").write_text(json.dumps({"default": pods}))
    assert "OUTSIDE" in verdict_line()
