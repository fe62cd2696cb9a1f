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


def test_a_tiresias_gpu_count_no_node_can_hold_is_refused(tmp_path: Path) -> None:
    """99999999999 GPUs was accepted and never placed."""
    trace = _trace(tmp_path, TIRESIAS + "0,99999999999,0,1,vgg,50,1\n")
    msg = one_line_error(["simulate", "replay", "--trace", trace, "--policies", "tessera"])
    assert "num_gpu" in msg


@pytest.mark.parametrize(
    ("count", "pods", "each"), [(1, 1, 1), (2, 1, 2), (3, 3, 1), (4, 2, 2), (7, 7, 1), (8, 2, 4)]
)
def test_a_tiresias_job_keeps_every_gpu_it_asks(
    tmp_path: Path, count: int, pods: int, each: int
) -> None:
    """3 GPUs were replayed as 2 pods x 1 (one GPU lost, silently): an odd count above 2 is a
    pod per GPU, an even one 2 pods of half; pods x GPUs each = the count, every time."""
    from simulator.workloads.traces import tiresias

    job = tiresias(_trace(tmp_path, TIRESIAS + f"0,{count},0,1,vgg,50,1\n")).jobs[0]
    assert job.task.gpu is not None
    assert (job.replicas, job.min_member, job.task.gpu.count) == (pods, pods, each)
    assert pods * each == count


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


def test_a_spec_seed_that_disagrees_with_seed_is_refused() -> None:
    """`compare --trace synthetic:seed=7` ran seeds 0..4: the spec's seed silently ignored. It
    is now the first seed; a different `--seed` beside it is refused (one would be ignored)."""
    msg = one_line_error(
        ["simulate", "compare", "--no-serving", "--seed", "2", "--trace", "synthetic:seed=7,jobs=3"]
    )
    assert "--seed 2 and the spec's seed=7 disagree" in msg


def test_a_spec_seed_is_the_first_seed_of_the_study() -> None:
    from simulator.replay.study import first_seed

    assert first_seed("synthetic:seed=7,jobs=3", None) == 7
    assert first_seed("synthetic:seed=7,jobs=3", 7) == 7
    assert first_seed("synthetic:jobs=3", None) == 0
    assert first_seed("synthetic:jobs=3", 4) == 4
    assert first_seed(None, None) == 0


SMALL_DAY = "multimodal:models=10,requests=60,training_jobs=0,pipelines=0,ensembles=0"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--nodes", "100000000"], "--nodes must be >= 1 and <= 10000"),  # ran until killed
        (["--gpus-per-node", "100000"], "--gpus-per-node must be"),  # int16 OverflowError
        (["--slo-wait", "nan"], "--slo-wait must be > 0"),  # every request counted a miss
        (["--cold-start", "inf"], "--cold-start must be"),
        (["--hours", "nan"], "--hours must be > 0"),
    ],
)
def test_serve_options_out_of_range_are_one_line(args: list[str], needle: str) -> None:
    msg = one_line_error(
        ["simulate", "serve", "--trace", SMALL_DAY, "--policies", "tessera", *args]
    )
    assert needle in msg


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--cold-start", "nan"], "--cold-start must be"),  # the search never ended
        (["--max-nodes", "100000000"], "--max-nodes must be >= 1 and <= 10000"),  # never ended
        (["--slo", "p95=2s,p95=3s"], "p95 given twice"),
        (["--slo", "p95=" + "9" * 400 + "s"], "bad --slo term"),  # infinity: always met
        (["--slo", "p95=\u0663s"], "bad --slo term"),
    ],
)
def test_capacity_options_out_of_range_are_one_line(args: list[str], needle: str) -> None:
    base = ["plan", "capacity", "--trace", SMALL_DAY, "--policies", "tessera"]
    msg = one_line_error([*base, *(["--slo", "p95=2s"] if "--slo" not in args else []), *args])
    assert needle in msg


def test_sweep_refuses_a_repeated_seed() -> None:
    """`--seeds 1,1` ran the same cell twice and counted it twice."""
    msg = one_line_error(
        ["simulate", "sweep", "--traces", SMALL_DAY, "--seeds", "1,1", "--policies", "tessera"]
    )
    assert "--seeds: a value given twice" in msg


def test_a_request_trace_named_like_the_generator_is_read_as_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`multimodal_day.csv` silently served (and swept) the generated day, not the file."""
    from simulator.serving.requests import load_requests
    from simulator.sweep.run import Cell, run_cell

    monkeypatch.chdir(tmp_path)
    Path("multimodal_day.csv").write_text(
        "id,arrival_s,duration_s,modality,kind,model,gpu\n"
        "r1,0,5,text,request,m1,milli:250\nr2,1,5,text,request,m1,milli:250\n"
    )
    assert len(load_requests("multimodal_day.csv")) == 2
    out = run_cell(Cell("tessera", "multimodal_day.csv", 0, 1.0))
    assert out["summary"]["requests"] == 2  # type: ignore[index]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--inflate", "inf"], "--inflate must be > 0 and <= 10"),  # filled until killed
        (["--seed", "-1"], "--seed must be >= 0"),  # numpy's "expected non-negative integer"
    ],
)
def test_fgd_fill_options_out_of_range_are_one_line(
    tmp_path: Path, args: list[str], needle: str
) -> None:
    nodes = _trace(
        tmp_path, "sn,cpu_milli,memory_mib,gpu,model\nn1,96000,786432,8,V100M32\n", "nodes.csv"
    )
    pods = _trace(
        tmp_path, "name,cpu_milli,memory_mib,num_gpu,gpu_milli\np1,1000,1024,1,500\n", "pods.csv"
    )
    msg = one_line_error(
        ["simulate", "fgd-fill", "--nodes", nodes, "--pods", pods, "--policy", "bestfit", *args]
    )
    assert needle in msg


def test_plan_out_under_a_file_is_refused_before_planning(tmp_path: Path) -> None:
    """`--out afile/sub` was a NotADirectoryError traceback after the CP-SAT run."""
    root = Path(__file__).resolve().parents[2]
    (tmp_path / "afile").write_text("")
    demand = _trace(tmp_path, '{"1g.10gb": 2}', "demand.json")
    msg = one_line_error(
        [
            "plan",
            "repartition",
            "--snapshot",
            str(root / "examples/cluster.json"),
            "--demand",
            demand,
            "--out",
            str(tmp_path / "afile" / "sub"),
        ]
    )
    assert "--out" in msg and "cannot create the folder" in msg


@pytest.mark.parametrize("cmd", ["generate", "convert"])
def test_trace_out_under_a_file_is_one_line(tmp_path: Path, cmd: str) -> None:
    """`--out afile/x.csv` was a NotADirectoryError traceback (exit 1)."""
    (tmp_path / "afile").write_text("")
    out = str(tmp_path / "afile" / "x.csv")
    if cmd == "generate":
        args = ["trace", "generate", "--out", out, "--params", "models=5,requests=5"]
    else:
        src = _trace(tmp_path, TIRESIAS + "0,1,0,1,vgg,50,1\n")
        args = ["trace", "convert", src, "--from", "tiresias", "--out", out]
    assert "is not an existing folder" in one_line_error(args)


def test_write_records_names_the_path_it_cannot_write(tmp_path: Path) -> None:
    from simulator.workloads.schema import write_records

    (tmp_path / "afile").write_text("")
    with pytest.raises(ValueError, match="cannot write"):
        write_records(tmp_path / "afile" / "x.jsonl", [])


def test_replay_names_a_negative_seed() -> None:
    """Was numpy's "expected non-negative integer", naming no option."""
    msg = one_line_error(["simulate", "replay", "--trace", "synthetic:jobs=3", "--seed", "-1"])
    assert "--seed must be >= 0" in msg
