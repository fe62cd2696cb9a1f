"""A 20-job twin run: the real schedulers (KWOK running the pods) against their simulated
models on the same slice.

Long form only (TESSERA_LONG=1; about 3 minutes per scheduler on the 2-core box). Asserted:
Tessera is within every issue-13 tolerance of its model (`tessera-static-kube`: the extender
behind a modelled kube-scheduler); Volcano finishes what its model finishes with allocation and
p95 wait in tolerance. Expected to fail, each for a measured cause (benchmarks/RESULTS.md
"Digital twin", docs/twin.md): Volcano's p50 wait (bind latency and session run time, x speedup:
53 and 94 trace s in two real runs against 58 in the model, tolerance 30 s), and kube-scheduler
alone, which places gang members one by one, so which partial gangs deadlock depends on
tie-breaks and retry timing (2 of 3 gangs in two real runs, 3 in the model on every seed).
"""

from __future__ import annotations

import os

import pytest

from devcluster.twin.compare import table
from devcluster.twin.real import Binaries
from devcluster.twin.run import TwinResult, slice_jobs, twin_run
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


def _comparison(twin20: TwinResult, scheduler: str):  # type: ignore[no-untyped-def]
    return next(c for c in twin20.comparisons if c.scheduler == scheduler)


def test_the_real_tessera_is_within_all_tolerances_of_its_model(twin20):
    assert _comparison(twin20, "tessera").ok, table(twin20.comparisons)


def test_the_real_volcano_finishes_what_its_model_finishes(twin20):
    rows = {r.metric: r for r in _comparison(twin20, "volcano").rows}
    text = table(twin20.comparisons)
    assert rows["finished"].real == rows["finished"].sim, text
    assert rows["allocated_pct_mean"].ok, text
    assert rows["queue_delay_s.p95"].ok, text


@pytest.mark.xfail(reason="Volcano's p50 wait is bind latency and session run time x speedup "
                   "(53-94 trace s real vs 58 modelled); kube-scheduler alone: partial-gang "
                   "deadlocks depend on tie-breaks (benchmarks/RESULTS.md)",
                   strict=False)  # fmt: skip
@pytest.mark.parametrize("scheduler", ["volcano", "default"])
def test_the_other_runs_are_within_all_tolerances(twin20, scheduler):
    assert _comparison(twin20, scheduler).ok, table(twin20.comparisons)
