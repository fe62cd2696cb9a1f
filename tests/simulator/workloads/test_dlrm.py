"""DLRM v2025 instances -> replay jobs and the cluster sized for them, on a hand-read slice of
the real file (tests/simulator/trace_slices.py names the rows) and as properties."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.traces.dlrm import DlrmInstance
from simulator.workloads.dlrm import (
    CPU_NODE,
    GPU_NODE,
    GiB,
    cluster_for,
    dlrm,
    jobs_from_instances,
)
from simulator.workloads.sizing import concurrent_at_arrivals
from tests.simulator.trace_slices import DLRM, DLRM_LINES, write_slice


@pytest.fixture
def workload(tmp_path: Path):
    return dlrm(write_slice(DLRM, DLRM_LINES, tmp_path / "dlrm-slice.csv"))


def test_times_follow_the_readme(workload):
    jobs = {j.uid: j for j in workload.jobs}
    end = 1_799_786.0  # the slice's latest time (instance_17763)
    # (arrival, run) per instance, run = (deletion or end) - (scheduled or creation or 0):
    expected = {
        "instance_0": (0.0, end),  # no times: from the start to the end
        "instance_2454": (0.0, 85.0),  # deleted at 85, present from the start
        "instance_7280": (475.0, end - 623.0),  # alive at the end: 1,799,163 s
        "instance_7281": (610.0, 91_730.0 - 683.0),  # 91,047 s
        "instance_13574": (1_435_629.0, 131.0),  # 1,435,760 - 1,435,629
        "instance_17763": (1_799_786.0, 1.0),  # zero-length: 1 s
    }
    assert set(jobs) == set(expected)
    for uid, (arrival, run) in expected.items():
        assert (jobs[uid].arrival, jobs[uid].duration) == pytest.approx((arrival, run)), uid
    assert "6 instances (2 HN, 4 CN); 2 present from start, 2 alive at the end, " \
           "1 zero-length" in workload.source


def test_roles_map_to_gpu_and_cpu_only_tasks(workload):
    jobs = {j.uid: j for j in workload.jobs}
    hn = jobs["instance_0"].task  # 12 vCPU, 1 GPU, 120 GiB
    assert (hn.cpu_milli, hn.memory_bytes, hn.gpu.kind, hn.gpu.count) == (
        12_000, 120 * GiB, "whole", 1)
    cn = jobs["instance_7281"].task  # 64 vCPU, 320 GiB, no GPU
    assert (cn.cpu_milli, cn.memory_bytes, cn.gpu) == (64_000, 320 * GiB, None)
    assert {j.kind for j in workload.jobs} == {"inference"}


def test_cluster_sized_to_the_slice_peak(workload):
    # GPU pool: instance_0 leaves at 1,799,786 as instance_17763 arrives -> peak 1 GPU,
    # 12 vCPU, 120 GiB -> one 8-GPU node. CPU pool: peak at t=610 (7280 + 7281 running) =
    # 128 vCPU / 640 GiB -> one 192 vCPU / 1.5 TiB node.
    assert [(n.name, n.gpus, n.cpu_milli) for n in workload.nodes] == [
        ("hn-000", 8, 128_000), ("cn-000", 0, 192_000)]


def _instance(i: int, gpu: int, times: tuple[float | None, float | None, float | None]):
    created, scheduled, deleted = times
    return DlrmInstance(f"i{i}", "HN" if gpu else "CN", "app", 8, gpu, 25, 40.0, 200.0, -1,
                        created, scheduled, deleted)


TIME = st.one_of(st.none(), st.floats(0, 1e6, allow_nan=False))


@st.composite
def instances(draw):
    out = []
    for i in range(draw(st.integers(1, 30))):
        created = draw(TIME)
        scheduled = None if created is None else created + draw(st.floats(0, 100))
        began = scheduled if scheduled is not None else 0.0
        deleted = draw(st.one_of(st.none(), st.floats(began, began + 1e6)))
        out.append(_instance(i, draw(st.integers(0, 1)), (created, scheduled, deleted)))
    return tuple(out)


@given(instances())
def test_every_instance_becomes_one_valid_job_and_the_peak_fits(rows):
    """One job per instance with arrival >= 0 and run > 0, ending no later than the trace end
    (or 1 s after it, for zero-length ones), and the sized pools hold the peak demand."""
    jobs, counts = jobs_from_instances(rows)
    assert len(jobs) == counts.instances == len(rows)
    end = max((t for r in rows for t in (r.creation_time, r.scheduled_time, r.deletion_time)
               if t is not None), default=0.0)
    for r, j in zip(rows, jobs, strict=True):
        began = r.scheduled_time if r.scheduled_time is not None else j.arrival
        assert j.arrival >= 0 and j.duration > 0
        assert began + j.duration <= max(end, began + 1.0) + 1e-6
    nodes = cluster_for(jobs)
    gpu_peak = max(concurrent_at_arrivals(jobs, lambda j: j.task.gpu.count if j.task.gpu else 0))
    assert sum(n.gpus for n in nodes) >= gpu_peak
    assert sum(n.gpus == 0 for n in nodes) * CPU_NODE[1] >= max(concurrent_at_arrivals(
        [j for j in jobs if j.task.gpu is None], lambda j: j.task.cpu_milli), default=0)
    assert all(n.gpus in (0, GPU_NODE[0]) for n in nodes)
