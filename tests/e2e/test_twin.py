"""A 20-job twin run: the real schedulers (KWOK running the pods) against their simulated
models on the same slice.

Long form only (TESSERA_LONG=1; about 3 minutes per scheduler on the 2-core box). Each real
run is judged against its model's range over `MODEL_SEEDS` seeds (`devcluster.twin.verdict`:
in range, within the issue-13 tolerance of the nearest end, or OUT). Asserted: the verdict
carries every seed's value and a verdict word per judged metric; Tessera is within every
tolerance of its model (`tessera-static-kube`: the extender behind a modelled kube-scheduler);
Volcano finishes as many jobs as one of its model's seeds, with allocation and p95 wait within
tolerance of the range. Expected to fail, each for a measured cause (benchmarks/RESULTS.md
"Digital twin", docs/twin.md): Volcano's p50 wait (bind latency and session run time, x speedup:
53, 77, 79 and 94 trace s in four real runs; the model's range on the session chain 50-74 s:
the two runs judged on it lie 4.8 and 6.1 s beyond its end, within the 30 s tolerance), and
kube-scheduler alone, which places gang members one by one, so which partial gangs deadlock
depends on tie-breaks and retry timing (2 of 3 gangs in the real runs, 3 in the model on
every seed).
"""

from __future__ import annotations

import os

import pytest

from devcluster.twin.compare import IN_RANGE, JUDGED_METRICS, OUT, WITHIN_TOLERANCE
from devcluster.twin.real import Binaries
from devcluster.twin.run import MODEL_SEEDS, TwinResult, slice_jobs, twin_run
from devcluster.twin.verdict import Comparison, table
from simulator.workloads.traces import load

pytestmark = [
    pytest.mark.e2e,
    # Three real runs of 140-260 s wall each plus cluster starts: more than the 600 s default.
    pytest.mark.timeout(1800),
    pytest.mark.skipif(os.environ.get("TESSERA_LONG", "") in ("", "0"),
                       reason="long form: set TESSERA_LONG=1"),  # fmt: skip
]


@pytest.fixture(scope="module")
def twin20(k8s_bin_dir, twin_bins, tmp_path_factory) -> TwinResult:
    volcano, kwok = twin_bins
    w = slice_jobs(load("synthetic:seed=1,jobs=20,nodes=4,mig_nodes=1"), 20)
    logs = tmp_path_factory.mktemp("twin-logs")  # every component's log, kept
    return twin_run(w, ["tessera", "default", "volcano"], Binaries(k8s_bin_dir, kwok, volcano),
                    speedup=100, keep_logs_in=logs)  # fmt: skip


def _comparison(twin20: TwinResult, scheduler: str) -> Comparison:
    return next(c for c in twin20.comparisons if c.scheduler == scheduler)


def test_each_verdict_is_judged_on_every_seeds_value(twin20):
    text = table(twin20.comparisons)
    assert f"on {MODEL_SEEDS} seeds (0-{MODEL_SEEDS - 1})" in text
    assert twin20.model_seeds == list(range(MODEL_SEEDS))
    for c in twin20.comparisons:
        assert c.seeds == twin20.model_seeds and len(c.gang_sets) == MODEL_SEEDS, text
        doc = c.to_json()
        for r in c.rows:
            assert len(r.seeds) == MODEL_SEEDS and r.sim == r.seeds[0], text
            m = doc["metrics"][r.metric]
            assert m["min"] <= m["median"] <= m["max"], text
            if r.metric in JUDGED_METRICS:
                assert r.verdict in (IN_RANGE, WITHIN_TOLERANCE, OUT), text
                assert m["verdict"] == r.verdict and m["ok"] is (r.verdict != OUT), text
                assert (m["off_range"] == 0) is (r.verdict == IN_RANGE), text
        assert doc["gangs_seeds"]["verdict"] in (IN_RANGE, OUT)
        assert doc["ok"] is c.ok


def test_the_real_tessera_is_within_all_tolerances_of_its_model(twin20):
    assert _comparison(twin20, "tessera").ok, table(twin20.comparisons)


def test_the_real_volcano_finishes_what_its_model_finishes(twin20):
    rows = {r.metric: r for r in _comparison(twin20, "volcano").rows}
    text = table(twin20.comparisons)
    assert rows["finished"].real in rows["finished"].seeds, text
    assert rows["allocated_pct_mean"].ok, text
    assert rows["queue_delay_s.p95"].ok, text


@pytest.mark.xfail(reason="Volcano: the p50 wait is bind latency and session run time x "
                   "speedup, 53-94 trace s in four real runs against the chain's 50-74 s over "
                   "seeds (within tolerance in the two runs judged on the range; 94 s would "
                   "lie 7-10 s inside their widened ends; benchmarks/RESULTS.md)",
                   strict=False)  # fmt: skip
def test_the_real_volcano_is_within_all_tolerances(twin20):
    assert _comparison(twin20, "volcano").ok, table(twin20.comparisons)


def test_kube_scheduler_alone_is_within_all_tolerances_of_its_queue_order_model(twin20):
    """Its partial-gang deadlock (2 of 3 gangs in three real runs) comes from kube-scheduler's
    queue order, which `kube-default-queued` models (2 on every seed 0-19; round 8)."""
    assert _comparison(twin20, "default").ok, table(twin20.comparisons)
