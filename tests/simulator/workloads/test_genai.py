"""GenAI v2026 requests -> GPU-share serving tasks and the cluster sized for them, on a
hand-read slice of the real file (tests/simulator/trace_slices.py) and as properties."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.traces.genai import STATUSES, LoraRequest
from simulator.workloads.genai import (
    NODE_GPUS,
    cluster_for,
    genai,
    gpu_milli,
    jobs_from_requests,
    share,
)
from simulator.workloads.sizing import concurrent_at_arrivals, quantile
from tests.simulator.trace_slices import GENAI, GENAI_LINES, write_slice


@pytest.fixture
def workload(tmp_path: Path):
    return genai(write_slice(GENAI, GENAI_LINES, tmp_path / "genai-slice.csv"))


def test_requests_become_timed_share_tasks(workload):
    # Seconds from 2024-11-15 16:57:50: 18:16:14 = 4,704; 18:17:06 = 4,756; 18:17:16 = 4,766;
    # 2024-11-17 04:44:00 = 2 days - 12:13:50 = 172,800 - 44,030 = 128,770. The PENDING row
    # (line 9632) is dropped.
    got = [(j.arrival, j.duration, gpu_milli(j)) for j in workload.jobs]
    assert got == [
        (0.0, 32.0, 250),  # 1 image -> quarter GPU
        (4_704.0, 43.0, 250),
        (4_756.0, 36.0, 1000),  # 8 images -> whole GPU
        (4_766.0, 53.0, 1000),
        (128_770.0, 3.0, 500),  # FAILED, 2 images -> half GPU, kept: it ran
    ]
    assert [j.uid for j in workload.jobs] == [f"req-{i:05d}" for i in range(5)]
    assert "6 requests, 5 replayed, 1 PENDING/PROCESSING dropped" in workload.source


def test_cluster_sized_to_p99_of_demand_in_flight(workload):
    # In flight at each arrival (milli): 250; 250 (first left at 32); 1000 (4,704 + 43 = 4,747
    # < 4,756); 2000 (the 8-image request at 4,756 runs to 4,792); 500. Nearest-rank p99 of 5
    # values is the 5th smallest = 2000 -> 2 GPUs -> one 4-GPU node.
    assert concurrent_at_arrivals(workload.jobs, gpu_milli) == [250, 250, 1000, 2000, 500]
    assert [(n.name, n.gpus, n.gpu_model) for n in workload.nodes] == [("sd-000", 4, "H100-80GB")]


@pytest.mark.parametrize(("images", "kind", "milli", "memory_mib"), [
    (None, "milli", 250, 20_480), (1, "milli", 250, 20_480), (2, "milli", 500, 40_960),
    (4, "milli", 500, 40_960), (5, "whole", 0, 0), (8, "whole", 0, 0),
])
def test_share_by_batch_size(images, kind, milli, memory_mib):
    g = share(images)
    assert (g.kind, g.milli, g.memory_mib) == (kind, milli, memory_mib)


START = datetime(2024, 11, 15)


@st.composite
def requests(draw):
    return tuple(
        LoraRequest(START + timedelta(seconds=draw(st.integers(0, 10_000))), "TXT_2_IMG",
                    draw(st.sampled_from(STATUSES)), draw(st.floats(0, 600)), "G", 0,
                    num_images=draw(st.one_of(st.none(), st.integers(1, 8))))
        for _ in range(draw(st.integers(1, 40)))
    )


@given(requests())
def test_kept_plus_dropped_is_every_request_and_p99_fits(rows):
    """Nothing is lost: each request is replayed or counted as dropped; runs are positive;
    the cluster holds the p99 of demand in flight."""
    jobs, counts = jobs_from_requests(rows)
    assert counts.kept + counts.dropped_unfinished == counts.requests == len(rows)
    assert counts.kept == sum(r.status in ("SUCCEED", "FAILED") for r in rows) == len(jobs)
    assert all(j.duration >= 1.0 and j.arrival >= 0 for j in jobs)
    nodes = cluster_for(jobs)
    p99 = quantile(concurrent_at_arrivals(jobs, gpu_milli), 0.99)
    assert len(nodes) >= 1 and len(nodes) * NODE_GPUS * 1000 >= p99
