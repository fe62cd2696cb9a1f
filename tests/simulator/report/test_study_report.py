"""The seed-study report (`simulate compare --report`): every seed's runs in the tables and
CSV/JSON, the summary with 95 % intervals, verdicts read from the intervals, and the same seeds
giving byte-identical JSON."""

from __future__ import annotations

import json

from simulator.replay.study import compare_seeds, trace_workloads
from simulator.report.document import Report
from simulator.report.from_study import study_report
from simulator.serving.config import Autoscale, ServingSpec
from simulator.serving.requests import from_records
from simulator.serving.study import run_serving
from simulator.workloads.multimodal import MultimodalParams, generate

SPEC = "synthetic:jobs=12,nodes=2,mig_nodes=1,mean_interarrival_s=120"
POLICIES = ["tessera", "kube-default"]


def _build(seeds: list[int]) -> Report:
    studies = compare_seeds(seeds, trace_workloads(SPEC), POLICIES)
    served = []
    for s in seeds:  # a small generated day per seed: the requests change with the seed
        day = from_records(tuple(generate(MultimodalParams(seed=s, hours=1.0, models=12,
                                                           requests=150, training_jobs=0,
                                                           pipelines=0, ensembles=0))))
        served += [run_serving(day, ServingSpec(nodes=1, mig_nodes=1), Autoscale(), p,
                               "small day", s) for p in POLICIES]
    return study_report(studies, served)


def test_report_covers_every_seed_and_states_intervals() -> None:
    doc = json.loads(_build([3, 4]).to_json())
    tables = doc["tables"]
    assert {(r["policy"], r["seed"]) for r in tables["replay_summary"]} == {
        (p, s) for p in POLICIES for s in (3, 4)}
    assert {(r["trace"], r["seed"]) for r in tables["serving_summary"]} == {
        ("small day", 3), ("small day", 4)}
    intervals = tables["study_intervals"]
    assert {r["half"] for r in intervals} == {"replay", "serving"}
    assert all(r["n"] == 2 and r["low"] <= r["mean"] <= r["high"] for r in intervals)
    # every metric with a verdict names exactly one best policy per workload
    best = [(r["workload"], r["metric"]) for r in intervals if r["verdict"] == "best"]
    assert len(best) == len(set(best)) > 0
    # the time series keep both seeds; verdicts are sentences over the intervals
    assert {r["seed"] for r in doc["datasets"]["replay_allocation"]} == {3, 4}
    assert {r["seed"] for r in doc["datasets"]["study_seed_values"]} == {3, 4}
    assert all("+/-" in v for v in doc["verdicts"]), doc["verdicts"]
    assert doc["sources"][0].startswith("seeds 3, 4:")


def test_same_seeds_give_byte_identical_json() -> None:
    assert _build([0, 1]).to_json() == _build([0, 1]).to_json()


def _entry(better: str, **means: tuple[float, float]) -> dict[str, object]:
    from simulator.replay.seeds import verdict

    stats = {p: {"n": 5, "mean": m, "half": h, "low": m - h, "high": m + h}
             for p, (m, h) in means.items()}
    return {"better": better, "by_policy": stats, "verdict": verdict(stats, better)}


def test_interval_sentences_name_the_best_or_the_tie() -> None:
    from simulator.report.from_study import interval_sentence

    # max: a = 60 +/- 1 is above b's 50 +/- 2 (intervals [59, 61] and [48, 52] apart)
    clear = {"metrics": {"u": _entry("max", a=(60.0, 1.0), b=(50.0, 2.0))}}
    assert interval_sentence("Most?", "%", "u", [("w", clear)]) == (
        "Most? On w: a (60.0 +/- 1.0 %; next b 50.0 +/- 2.0 %).")
    # min: b = 10 +/- 3 is best, a = 12 +/- 3 overlaps it ([7, 13] vs [9, 15]): a tie, best
    # first; c = 30 +/- 1 is out
    tie = {"metrics": {"w": _entry("min", a=(12.0, 3.0), b=(10.0, 3.0), c=(30.0, 1.0))}}
    assert interval_sentence("Least?", "s", "w", [("x", tie)]) == (
        "Least? On x: b and a tie, intervals overlap (b 10.0 +/- 3.0 s; a 12.0 +/- 3.0 s).")
