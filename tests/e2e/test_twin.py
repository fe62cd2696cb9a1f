"""A 20-job twin run: the real schedulers (KWOK running the pods) against their simulated
models on the same slice.

Long form only (TESSERA_LONG=1; about 2.5 minutes per scheduler on the 2-core box). Asserted:
every job the model finishes finishes for real, and the p50 wait is within 15 % or 30 s. The
full issue-13 tolerances (allocation within 2 pp, p95 wait, same gangs) are checked in
`test_..._within_all_tolerances`, expected to fail today: benchmarks/RESULTS.md ("Digital
twin") lists the measured differences and docs/twin.md their causes.
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


def test_a_20_job_twin_run_finishes_what_the_model_finishes(twin20):
    text = table(twin20.comparisons)
    for c in twin20.comparisons:
        rows = {r.metric: r for r in c.rows}
        assert rows["finished"].real == rows["finished"].sim, text
        assert rows["queue_delay_s.p50"].ok, text


@pytest.mark.xfail(reason="allocation differs by 6-8 pp and p95 waits by more than 15 %; "
                   "see benchmarks/RESULTS.md 'Digital twin'", strict=False)  # fmt: skip
def test_a_20_job_twin_run_is_within_all_tolerances(twin20):
    text = table(twin20.comparisons)
    assert all(c.ok for c in twin20.comparisons), text
