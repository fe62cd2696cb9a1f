"""Trace loaders on the shipped files (computed statistics from the reference) and on tiny bad
files (file, line and column named; lenient mode skips and counts)."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.traces import (
    TraceError,
    load_openb_nodes,
    load_openb_pods,
    load_tiresias_jobs,
)

OPENB = "traces/alibaba-gpu-v2023"


def test_default_pod_list_matches_reference_statistics(shared_dir: Path):
    pods = load_openb_pods(shared_dir / OPENB / "openb_pod_list_default.csv").rows
    assert len(pods) == 8152
    by_num = {n: sum(1 for p in pods if p.num_gpu == n) for n in (0, 1, 2, 4, 8)}
    assert by_num == {0: 1088, 1: 6989, 2: 16, 4: 15, 8: 44}
    # Total GPU request 6086.8 GPUs (98.0 % of 6212), from the reference's computed numbers.
    assert sum(p.total_gpu_milli for p in pods) == 6_086_800
    assert sum(1 for p in pods if p.scheduled_time is None) == 897  # the Pending pods
    assert all(p.gpu_spec == "" for p in pods)


def test_node_lists(shared_dir: Path):
    gpu = load_openb_nodes(shared_dir / OPENB / "openb_node_list_gpu_node.csv").rows
    every = load_openb_nodes(shared_dir / OPENB / "openb_node_list_all_node.csv").rows
    assert (len(gpu), sum(n.num_gpu for n in gpu)) == (1213, 6212)
    assert (len(every), sum(1 for n in every if n.num_gpu == 0)) == (1523, 310)
    assert sum(n.cpu_milli for n in gpu) == 107_018_000


def test_tiresias(shared_dir: Path):
    jobs = load_tiresias_jobs(shared_dir / "traces/tiresias-60job/60_job.csv").rows
    assert len(jobs) == 60
    assert sorted({j.num_gpu for j in jobs}) == [1, 2, 4, 8]
    assert sum(j.num_gpu * j.duration for j in jobs) == 26_624  # GPU-seconds, per the reference


def test_five_column_form(tmp_path: Path):
    f = tmp_path / "openb_pod_list_multigpu50.csv"
    f.write_text(
        "name,cpu_milli,memory_mib,num_gpu,gpu_milli\np-1,4000,1024,4,1000\np-2,1000,0,1,250\n"
    )
    pods = load_openb_pods(f).rows
    assert [(p.name, p.num_gpu, p.gpu_milli, p.creation_time) for p in pods] == [
        ("p-1", 4, 1000, None),
        ("p-2", 1, 250, None),
    ]


@pytest.mark.parametrize(
    ("row", "needle"),
    [
        ("p-1,4000,1024,x,1000", ":2: column 'num_gpu': expected an integer, got 'x'"),
        ("p-1,4000,1024,1,1200", ":2: column 'gpu_milli': value 1200 out of range 0..1000"),
        ("p-1,4000,1024,2,500", "column 'gpu_milli': num_gpu 2 takes whole GPUs"),
        ("p-1,-5,1024,1,500", "column 'cpu_milli': value -5 out of range >= 0"),
        ("p-1,4000,1024,0,300", "num_gpu 0 cannot ask for 300"),
        ("p-1,4000,1024", ":2: has 3 fields, header has 5"),
    ],
)
def test_bad_rows_name_file_line_column(tmp_path: Path, row: str, needle: str):
    f = tmp_path / "pods.csv"
    f.write_text("name,cpu_milli,memory_mib,num_gpu,gpu_milli\n" + row + "\n")
    with pytest.raises(TraceError) as exc:
        load_openb_pods(f)
    assert str(f) in str(exc.value) and needle in str(exc.value)


def test_lenient_skips_and_counts(tmp_path: Path):
    f = tmp_path / "pods.csv"
    f.write_text(
        "name,cpu_milli,memory_mib,num_gpu,gpu_milli\n"
        "ok-1,1000,1,1,500\nbad,1000,1,9,1000\nok-2,1000,1,0,0\nbad2,abc,1,0,0\n"
    )
    report = load_openb_pods(f, lenient=True)
    assert [p.name for p in report.rows] == ["ok-1", "ok-2"]
    assert (
        report.skipped == 2 and ":3:" in report.first_errors[0] and ":5:" in report.first_errors[1]
    )


def test_bad_header_and_missing_file(tmp_path: Path):
    f = tmp_path / "x.csv"
    f.write_text("sn,cpu\n")
    with pytest.raises(
        TraceError, match=r"x.csv:1: unexpected header 'sn,cpu'; expected sn,cpu_milli"
    ):
        load_openb_nodes(f)
    with pytest.raises(FileNotFoundError, match="trace file not found"):
        load_openb_nodes(tmp_path / "nope.csv")
    g = tmp_path / "n.csv"
    g.write_text("sn,cpu_milli,memory_mib,gpu,model\nn1,1000,10,2,\n")
    with pytest.raises(TraceError, match="column 'model': node with 2 GPUs has no GPU model"):
        load_openb_nodes(g)
