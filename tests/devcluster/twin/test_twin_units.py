"""The twin's pure parts: API objects from a workload, metrics from watch times, slicing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devcluster.kwok import DURATION_ANNOTATION, duration_value
from devcluster.twin.compare import ModelOptions, Spread, seed_spread, wait_tolerance
from devcluster.twin.metrics import real_metrics
from devcluster.twin.objects import job_objects, node_for, pod_name
from devcluster.twin.real import RealRun, _verbosity
from devcluster.twin.run import parse_schedulers, slice_jobs
from devcluster.volcano import GROUP_ANNOTATION
from scheduler.policy.model import GpuRequest
from simulator.workloads.model import JobSpec, TaskSpec, Workload
from simulator.workloads.synthetic import GiB, cluster, generate


def job(uid: str, gpus: int, replicas: int = 1, arrival: float = 0.0, duration: float = 100.0,
        after: tuple[str, ...] = ()) -> JobSpec:  # fmt: skip
    task = TaskSpec(1000, GiB, GpuRequest("whole", count=gpus))
    return JobSpec(uid, arrival, duration, task, replicas, replicas, after=after)


def test_mig_node_advertises_the_device_plugin_counters():
    spec = cluster(1, 1)[0]  # 8 H100, the first 4 statically partitioned
    alloc = node_for(spec)["status"]["allocatable"]
    assert alloc["nvidia.com/gpu"] == "4"  # 8 - 4 MIG GPUs
    # 4 GPUs x (2 x 1g.10gb + 1 x 2g.20gb + 1 x 3g.40gb) per GPU, as STATIC_MIG_LAYOUT says
    assert alloc["nvidia.com/mig-1g.10gb"] == "8"
    assert alloc["nvidia.com/mig-3g.40gb"] == "4"


@pytest.mark.parametrize(
    ("scheduler", "scheduler_name", "group"),
    [("volcano", "volcano", True), ("default", "default-scheduler", False),
     ("tessera", "default-scheduler", False)],
)  # fmt: skip
def test_a_gang_becomes_pods_and_for_volcano_a_podgroup(scheduler, scheduler_name, group):
    pg, pods = job_objects(job("J1", 4, replicas=3, duration=250.0), scheduler, speedup=100)
    assert len(pods) == 3
    assert [p["metadata"]["name"] for p in pods] == ["j1-0", "j1-1", "j1-2"]
    assert all(p["spec"]["schedulerName"] == scheduler_name for p in pods)
    ann = pods[0]["metadata"]["annotations"]
    # A gang's duration is written when the gang is complete (devcluster.twin.real), not now.
    assert DURATION_ANNOTATION not in ann
    _, (single,) = job_objects(job("J2", 4, replicas=1, duration=250.0), scheduler, speedup=100)
    assert single["metadata"]["annotations"][DURATION_ANNOTATION] == "2500ms"  # 250 s / 100
    assert (pg is not None) == group
    if pg is not None:
        assert pg["spec"]["minMember"] == 3
        assert pg["spec"]["minResources"]["nvidia.com/gpu"] == "12"  # 3 x 4
        assert ann[GROUP_ANNOTATION] == pg["metadata"]["name"]
    if scheduler == "tessera":
        assert ann["tessera.io/gang-min-member"] == "3"


def test_a_share_asks_tessera_for_milli_and_the_others_for_a_card():
    task = TaskSpec(1000, GiB, GpuRequest("milli", milli=300))
    j = JobSpec("s", 0.0, 10.0, task)
    _, (t,) = job_objects(j, "tessera", 1)
    _, (d,) = job_objects(j, "default", 1)
    assert t["spec"]["containers"][0]["resources"]["requests"]["tessera.io/gpu-milli"] == "300"
    assert d["spec"]["containers"][0]["resources"]["requests"]["nvidia.com/gpu"] == "1"


@given(st.text(min_size=1, max_size=30), st.integers(0, 50))
def test_pod_names_are_dns_labels(uid, i):
    name = pod_name(uid, i)
    assert name.endswith(f"-{i}")
    assert all(c.isdigit() or c == "-" or "a" <= c <= "z" for c in name)


@given(st.floats(0, 1e6, allow_nan=False))
def test_duration_value_is_whole_milliseconds(s):
    v = duration_value(s)
    assert v.endswith("ms") and int(v[:-2]) == round(s * 1000)


def test_real_metrics_use_the_simulators_definitions():
    # One node of 8 GPUs. A: 4 GPUs, created 0, bound 10, done 110. B: 8 GPUs, created 20,
    # bound 110, done 210. Useful GPU area = 4000*100 + 8000*100 = 1.2e6 milli-s over a span
    # of 210 s and 8000 milli: 1.2e6 / 210 / 8000 = 71.429 %.
    w = Workload("t", cluster(1, 0), (job("A", 4), job("B", 8, arrival=20.0)), "test")
    run = RealRun("default", submit={"A": 0.0, "B": 20.0},
                  pods={("A", 0): ("h100-000", 10.0, 110.0), ("B", 0): ("h100-000", 110.0, 210.0)})
    m = real_metrics(w, run)
    assert m["allocated_pct_mean"] == pytest.approx(71.429, abs=1e-3)
    assert m["queue_delay_s"] == {"p50": 10.0, "p95": 90.0, "p99": 90.0}  # waits 10 and 90
    assert m["finished"] == 2
    assert m["makespan_s"] == 210.0


def test_slice_keeps_the_first_jobs_and_their_dag_children():
    w = Workload("t", cluster(1, 0), (
        job("a", 1, arrival=0), job("b", 1, arrival=5, after=("a",)), job("c", 1, arrival=9),
        job("d", 1, arrival=20), job("e", 1, arrival=21, after=("d",)),
    ), "test")  # fmt: skip
    assert [j.uid for j in slice_jobs(w, 2).jobs] == ["a", "b", "c"]
    with pytest.raises(ValueError, match="--jobs 0"):
        slice_jobs(w, 0)


def test_synthetic_slice_is_a_prefix_by_arrival():
    w = generate(seed=3, jobs=30, nodes=2, mig_nodes=1)
    s = slice_jobs(w, 10)
    roots = [j for j in s.jobs if not j.after]
    assert len(roots) == 10
    assert max(j.arrival for j in roots) <= min(
        j.arrival for j in w.jobs if not j.after and j.uid not in {r.uid for r in roots}
    )


def test_bad_scheduler_lists_are_refused_with_the_name():
    with pytest.raises(ValueError, match="unknown scheduler 'kai'"):
        parse_schedulers("tessera,kai")
    with pytest.raises(ValueError, match="empty"):
        parse_schedulers(" , ")


@pytest.mark.parametrize(("sim", "tol"), [(0.0, 30.0), (100.0, 30.0), (1000.0, 150.0)])
def test_wait_tolerance_is_15_percent_or_30_seconds(sim, tol):
    assert wait_tolerance(sim) == tol  # max(0.15 x sim, 30)


@pytest.mark.parametrize(
    ("args", "says"),
    [(["--schedulers", "tessera,kai"], "unknown scheduler 'kai'"),
     (["--speedup", "0"], "--speedup 0.0: must be > 0"),
     (["--jobs", "0"], "--jobs 0: must be >= 1")],
)  # fmt: skip
def test_twin_run_bad_input_exits_2_with_one_line(args, says):
    from typer.testing import CliRunner

    from cli.main import app

    trace = "synthetic:jobs=5,nodes=2,mig_nodes=1"
    res = CliRunner().invoke(app, ["twin", "run", "--trace", trace, *args])
    assert res.exit_code == 2
    lines = [x for x in (res.stderr or res.output).splitlines() if x.strip()]
    assert len(lines) == 1 and says in lines[0], lines


@pytest.mark.parametrize(("metric", "values", "real", "strictly", "widened"), [
    # Allocation: range 50-52 %, widened by 2 pp each side: 48-54.
    ("allocated_pct_mean", [50.0, 52.0], 51.0, True, True),
    ("allocated_pct_mean", [50.0, 52.0], 53.9, False, True),
    ("allocated_pct_mean", [50.0, 52.0], 47.9, False, False),
    # Waits: range 100-200 s; low end 100 - max(15, 30) = 70, high end 200 + max(30, 30) = 230.
    ("queue_delay_s.p95", [100.0, 200.0], 229.0, False, True),
    ("queue_delay_s.p95", [100.0, 200.0], 69.0, False, False),
    # High end 1,000 + 150 (15 %) = 1,150.
    ("queue_delay_s.p95", [500.0, 1_000.0], 1_149.0, False, True),
    ("queue_delay_s.p95", [500.0, 1_000.0], 1_151.0, False, False),
])  # fmt: skip
def test_a_real_value_is_placed_against_the_models_seed_range(metric, values, real, strictly,
                                                              widened):  # fmt: skip
    sp = Spread("volcano", list(range(len(values))), {metric: values}, [1] * len(values))
    assert sp.strictly_within(metric, real) is strictly
    assert sp.within(metric, real) is widened


def test_the_seed_spread_runs_the_model_once_per_seed():
    w = generate(seed=3, jobs=6, nodes=2, mig_nodes=0)
    sp = seed_spread("default", w, [0, 1, 2], 100.0)
    assert sp.seeds == [0, 1, 2] and all(len(v) == 3 for v in sp.values.values())
    assert len(sp.gangs) == 3


def test_kube_scheduler_alone_is_judged_against_its_queue_order_model():
    """The twin models kube-scheduler alone as `kube-default-queued` (round 8): on the 20-job
    slice three real runs completed 2 of its 3 gangs (a partial-gang deadlock that comes from
    kube-scheduler's queue order); the queued model completes 2 on seeds 0-2, the plain
    `kube-default` (every pod retried at once) 3. Fails with the plain model as the default."""
    from devcluster.twin.compare import PLAIN_KUBE, SIM_POLICY, simulate

    w = slice_jobs(generate(seed=1, jobs=20, nodes=4, mig_nodes=1), 20)
    assert SIM_POLICY["default"] == "kube-default-queued"
    for seed in (0, 1, 2):
        queued = simulate("default", w, seed, 100.0)
        plain = simulate("default", w, seed, 100.0, ModelOptions(kube_queue_order=False))
        assert (queued.policy, len(queued.gangs_done)) == ("kube-default-queued", 2)
        assert (plain.policy, len(plain.gangs_done)) == (PLAIN_KUBE, 3)


@pytest.mark.parametrize(("env", "scheduler", "want"), [
    ({"TESSERA_TWIN_VC_SCHEDULER_V": "4"}, "volcano", 4),
    ({"TESSERA_TWIN_VC_SCHEDULER_V": "4"}, "tessera", 0),  # vc's knob is not kube-scheduler's
    ({"TESSERA_TWIN_KUBE_SCHEDULER_V": "5"}, "default", 5),
    ({"TESSERA_TWIN_KUBE_SCHEDULER_V": "5"}, "volcano", 0),
    ({"TESSERA_TWIN_VC_SCHEDULER_V": "lots"}, "volcano", 0),  # not a number: the default
])  # fmt: skip
def test_the_diagnostic_verbosity_goes_to_the_scheduler_under_test(monkeypatch, env, scheduler,
                                                                   want):  # fmt: skip
    for k in ("TESSERA_TWIN_VC_SCHEDULER_V", "TESSERA_TWIN_KUBE_SCHEDULER_V"):
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert _verbosity(scheduler) == want


def test_volcanos_model_sees_no_priority_because_the_twins_objects_carry_none():
    """The twin creates PodGroups and pods without a PriorityClass, so the real vc-scheduler
    orders every job at priority 0 (round 7: 'The priority of job ... is </0>' on all 39,496
    lines of a 200-job run); its model must too, whatever the trace's priority."""
    from dataclasses import replace

    from devcluster.twin.compare import sim_policy

    high = replace(job("J1", 4, replicas=2, duration=250.0), priority=10)
    pg, pods = job_objects(high, "volcano", speedup=100)
    assert pg is not None and "priorityClassName" not in pg["spec"]
    assert all("priorityClassName" not in p["spec"] and "priority" not in p["spec"] for p in pods)
    w = Workload("w", cluster(1, 0), (high,), "test")
    policy = sim_policy("volcano", w, 0, 100.0)
    policy.submit(high, 0.0)
    assert policy.sched.jobs["J1"].priority == 0  # type: ignore[attr-defined]


@pytest.mark.parametrize("scheduler", ["tessera", "default", "volcano"])
def test_every_model_is_driven_with_the_priorities_the_twin_creates(scheduler):
    """The real kube-scheduler, the Tessera extender and vc-scheduler all see the twin's pods
    at priority 0 (no PriorityClass, above), so `drive` hands every model the jobs as created:
    priority 0, nothing else changed (round 7: the trace's priority 10 on 95 of the 200-job
    slice's 246 jobs let them pass older gangs in the models only)."""
    from dataclasses import replace

    from devcluster.twin.compare import as_created, drive, sim_policy

    high = replace(job("J1", 4, replicas=2, duration=250.0), priority=10)
    low = job("J2", 4, replicas=1, duration=100.0)
    w = Workload("w", cluster(1, 0), (high, low), "test")
    assert [j.priority for j in as_created(w).jobs] == [0, 0]
    assert [replace(j, priority=0) for j in w.jobs] == list(as_created(w).jobs)
    policy = sim_policy(scheduler, w, 0, 100.0)
    seen: list[int] = []
    submit = policy.submit

    def spy(j, now):
        seen.append(j.priority)
        submit(j, now)

    policy.submit = spy  # type: ignore[method-assign]
    drive(policy, w, 0)
    assert seen == [0, 0]


def test_volcanos_model_takes_the_measured_session_chain_in_trace_seconds():
    """`timing` (wall seconds, `session_timing` of the real run's binds) reaches the model x
    speedup: period 1 s -> 100 s, run 0.05 s -> 5 s, 0.01 s per bind -> 1 s, sd 0.02 -> 2 s."""
    from devcluster.twin.compare import sim_policy
    from devcluster.twin.period import SessionTiming

    w = Workload("w", cluster(1, 0), (job("J1", 1),), "test")
    timing = ModelOptions(timing=SessionTiming(1.0, 0.05, 0.01, 0.02))
    cfg = sim_policy("volcano", w, 0, 100.0, timing).cfg  # type: ignore[attr-defined]
    assert (cfg.schedule_period_s, cfg.session_run_s, cfg.session_run_per_bind_s,
            cfg.session_run_sd_s) == pytest.approx((100.0, 5.0, 1.0, 2.0))  # fmt: skip
    fixed = sim_policy("volcano", w, 0, 100.0, ModelOptions(period_s=1.1))
    assert not fixed.cfg.session_runs()  # type: ignore[attr-defined]
    assert cfg.session_idle_run_s is None  # not measured: idle sessions run the line at 0 binds
    # The measured idle run (round 9) reaches the model x speedup too: 0.03 s -> 3 s.
    idle = ModelOptions(timing=SessionTiming(1.0, 0.05, 0.01, 0.02, 0.03))
    cfg = sim_policy("volcano", w, 0, 100.0, idle).cfg  # type: ignore[attr-defined]
    assert cfg.session_idle_run_s == pytest.approx(3.0)


@pytest.mark.parametrize(("files", "says"), [
    ({}, "No such file"),  # no placements.json
    ({"placements.json": "{}", "twin.json": '{"speedup": 300}'}, "KeyError"),
    # Three sessions: 2 adjacent gaps, fewer than MIN_GAPS (5).
    ({"placements.json": '{"volcano": {"a/0": {"bound": 0}, "b/0": {"bound": 330},'
                         ' "c/0": {"bound": 660}}}', "twin.json": '{"speedup": 300}'},
     "too few adjacent binding sessions"),
])  # fmt: skip
def test_twin_timing_from_bad_input_exits_2_with_one_line(tmp_path, files, says):
    import subprocess
    import sys
    from pathlib import Path

    for name, text in files.items():
        (tmp_path / name).write_text(text)
    repo = Path(__file__).resolve().parents[3]
    res = subprocess.run([sys.executable, str(repo / "benchmarks" / "twin.py"), "--model-seeds",
                          "1", "--workload", "synthetic20", "--schedulers", "volcano",
                          "--volcano-timing-from", str(tmp_path / "placements.json")],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert res.returncode == 2
    lines = [x for x in res.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and says in lines[0], lines


def test_the_range_note_places_each_metric_against_the_seeds():
    """Useful 50-52 (real 51: in), p50 300-400 (real 440: 400 + 60 (15 %) = 460 -> within),
    p95 1,000-2,000 (real 2,400 > 2,000 + 300 -> OUT), gang wait 10-20 (real 5: 10 - 30 ->
    within)."""
    from devcluster.twin.compare import SPREAD_METRICS, range_note

    values = dict(zip(SPREAD_METRICS, ([50.0, 52.0], [300.0, 400.0], [1_000.0, 2_000.0],
                                       [10.0, 20.0]), strict=True))  # fmt: skip
    sp = Spread("volcano", [0, 1], values, [1, 1])
    real = {"allocated_pct_mean": 51.0, "queue_delay_s": {"p50": 440.0, "p95": 2_400.0},
            "gang_wait_s": {"mean": 5.0}}  # fmt: skip
    assert range_note(sp, real).split("; ") == [
        "allocated_pct_mean 50.0-52.0: 51.0 (in)",
        "queue_delay_s.p50 300.0-400.0: 440.0 (within)",
        "queue_delay_s.p95 1,000.0-2,000.0: 2,400.0 (OUT)",
        "gang_wait_s.mean 10.0-20.0: 5.0 (within)",
    ]
