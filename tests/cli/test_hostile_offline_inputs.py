"""What a capacity planner hands `tessera simulate replay|compare`: traces whose jobs never fit,
pipelines that wait on themselves, report folders that cannot be written, absurd seed counts.
Each is one line and exit 2 before any run, or a figure that is not silently wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.main import app
from tests.cli.one_line import one_line_error, runner

TIRESIAS = "job_id,num_gpu,submit_time,iterations,model_name,duration,interval\n"
SCHEMA = "id,arrival_s,duration_s,modality,kind,upstream\n"


def _trace(tmp_path: Path, text: str, name: str = "t.csv") -> str:
    (tmp_path / name).write_text(text)
    return str(tmp_path / name)


def test_a_trace_none_of_whose_jobs_fits_is_refused(tmp_path: Path) -> None:
    """Replayed to makespan -100 s, waits 0 s and "tessera best" verdicts drawn from nothing."""
    trace = _trace(tmp_path, TIRESIAS + "0,64,100,1,vgg,50,1\n1,64,200,1,vgg,50,1\n")
    for cmd in (["simulate", "replay"], ["simulate", "compare", "--no-serving"]):
        msg = one_line_error([*cmd, "--trace", trace, "--policies", "tessera,volcano"])
        assert "none of its 2 jobs fits the cluster" in msg and "32 GPU(s)" in msg


def test_a_job_that_never_fits_among_others_is_named(tmp_path: Path) -> None:
    trace = _trace(tmp_path, TIRESIAS + "0,64,100,1,vgg,50,1\n1,1,200,1,vgg,50,1\n")
    r = runner.invoke(app, ["simulate", "replay", "--trace", trace, "--policies", "tessera"])
    assert r.exit_code == 0
    assert "1 of 2 jobs can never be placed" in r.stderr and "job t000" in r.stderr


def test_makespan_is_never_negative_when_no_job_finished() -> None:
    """`last_finish - first_arrival` with nothing finished was -first_arrival."""
    from simulator.replay.metrics import Recorder

    rec = Recorder(8000)
    rec.first_arrival = 100.0
    rec.submit["a"] = 100.0
    rec.advance(200.0)
    assert rec.summary({})["makespan_s"] == 0.0


@pytest.mark.parametrize(
    ("rows", "needle"),
    [
        (
            "a,0,10,text,pipeline_stage,b\nb,0,10,text,pipeline_stage,a\n",
            "upstream cycle a -> b -> a",
        ),
        ("a,0,10,text,pipeline_stage,a\n", "stage 'a' waits on itself"),
    ],
)
def test_a_pipeline_that_waits_on_itself_is_refused(tmp_path: Path, rows: str, needle: str) -> None:
    """Its stages never arrived and `unfinished` said 0: the replay reported the rest as all."""
    trace = _trace(tmp_path, SCHEMA + rows + "c,0,10,text,batch,\n")
    msg = one_line_error(["simulate", "replay", "--trace", trace, "--policies", "tessera"])
    assert f"{trace}:2:1: field 'upstream': {needle}" in msg


def test_the_driver_refuses_jobs_that_wait_on_each_other() -> None:
    from simulator.policies.replay.registry import make_replay_policy
    from simulator.replay.driver import replay
    from simulator.workloads.model import JobSpec, TaskSpec, Workload
    from simulator.workloads.synthetic import cluster

    task = TaskSpec(1000, 1 << 30, None)
    jobs = (JobSpec("a", 0, 1, task, after=("b",)), JobSpec("b", 0, 1, task, after=("a",)))
    w = Workload("w", cluster(1, 0), jobs, "test")
    with pytest.raises(ValueError, match="cycle: a -> b -> a"):
        replay(w, make_replay_policy("tessera", w, 0))


@pytest.mark.parametrize("count", ["3", "99999999999"])
def test_a_tiresias_gpu_count_the_mapping_cannot_keep_is_refused(
    tmp_path: Path, count: str
) -> None:
    """3 GPUs replayed as 2 pods x 1 (one GPU lost, silently); 99999999999 was never placed."""
    trace = _trace(tmp_path, TIRESIAS + f"0,{count},0,1,vgg,50,1\n")
    msg = one_line_error(["simulate", "replay", "--trace", trace, "--policies", "tessera"])
    assert "num_gpu" in msg or f"asks {count} GPUs" in msg


@pytest.mark.parametrize(
    "cmd",
    [
        ["simulate", "replay", "--policies", "tessera"],
        ["simulate", "compare", "--no-serving", "--policies", "tessera,volcano"],
    ],
)
def test_a_report_folder_under_a_file_is_refused_before_the_run(
    tmp_path: Path, cmd: list[str]
) -> None:
    """`--report afile/sub` was a NotADirectoryError traceback, after the whole simulation."""
    trace = _trace(tmp_path, TIRESIAS + "0,1,0,1,vgg,50,1\n")
    (tmp_path / "afile").write_text("")
    msg = one_line_error([*cmd, "--trace", trace, "--report", str(tmp_path / "afile" / "sub")])
    assert msg.startswith(f"error: --report {tmp_path / 'afile' / 'sub'}: cannot create")


def test_a_report_folder_that_is_a_file_is_refused_before_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The folder was checked only after every run had finished."""
    import simulator.replay.study as study

    def no_run(*args: object, **kwargs: object) -> None:
        raise AssertionError("the replay ran before the report folder was checked")

    monkeypatch.setattr(study, "run_policies", no_run)
    trace = _trace(tmp_path, TIRESIAS + "0,1,0,1,vgg,50,1\n")
    (tmp_path / "afile").write_text("")
    msg = one_line_error(
        [
            "simulate",
            "replay",
            "--trace",
            trace,
            "--policies",
            "tessera",
            "--report",
            str(tmp_path / "afile"),
        ]
    )
    assert "exists and is not a directory" in msg


def test_a_huge_seed_count_is_refused() -> None:
    """`--seeds 1000000000000` ran until killed."""
    msg = one_line_error(
        [
            "simulate",
            "compare",
            "--no-serving",
            "--seeds",
            "1000000000000",
            "--trace",
            "synthetic:jobs=3",
        ]
    )
    assert "--seeds must be 2..1000" in msg


def test_a_spec_seed_compare_would_ignore_is_refused() -> None:
    """`compare --trace synthetic:seed=7` ran seeds 0..4: the spec's seed silently ignored."""
    msg = one_line_error(
        ["simulate", "compare", "--no-serving", "--trace", "synthetic:seed=7,jobs=3"]
    )
    assert "drop seed= from the spec" in msg
