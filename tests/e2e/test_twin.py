"""A 20-job twin run: the real schedulers (KWOK running the pods) against their simulated
models on the same slice.

Long form only (TESSERA_LONG=1; about 2.5 minutes per scheduler on the 2-core box). Asserted:
Volcano is within every issue-13 tolerance; Tessera finishes what its model finishes with the
p50 wait in tolerance. The full tolerances for the two kube-scheduler runs are expected to fail
today, each for a measured cause (benchmarks/RESULTS.md "Digital twin", docs/twin.md): the
scheduling queue's retry timing (backoff, queueing hints, the 30 s leftover flush: seconds of
wall time, hundreds of trace s at speedup 100) is not in the models, and kube-scheduler
alone places gang members one by one, so which partial gangs deadlock depends on tie-breaks
and retry timing.
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


@pytest.mark.parametrize("scheduler", ["tessera", "volcano"])
def test_a_20_job_twin_run_finishes_what_the_model_finishes(twin20, scheduler):
    rows = {r.metric: r for r in _comparison(twin20, scheduler).rows}
    text = table(twin20.comparisons)
    assert rows["finished"].real == rows["finished"].sim, text
    assert rows["queue_delay_s.p50"].ok, text


def test_the_real_volcano_is_within_all_tolerances_of_its_model(twin20):
    assert _comparison(twin20, "volcano").ok, table(twin20.comparisons)


@pytest.mark.xfail(reason="kube-scheduler's retry timing is not modelled; without gangs, "
                   "partial-gang deadlocks depend on tie-breaks (benchmarks/RESULTS.md)",
                   strict=False)  # fmt: skip
@pytest.mark.parametrize("scheduler", ["tessera", "default"])
def test_the_kube_scheduler_runs_are_within_all_tolerances(twin20, scheduler):
    assert _comparison(twin20, scheduler).ok, table(twin20.comparisons)
