"""Whole fill runs on tiny traces: hand-computed outcomes, determinism, no over-allocation at
any event (debug mode), the arrival stream, and the curve sampler."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.fgd_fill.curve import AllocationLog
from simulator.fgd_fill.run import FillResult, run_fgd_fill
from simulator.fgd_fill.workload import fill_arrivals
from simulator.policies.fill.registry import FILL_POLICIES
from tests.simulator.fgd_fill.builders import node, pod

POLICIES = list(FILL_POLICIES)


def _two_pods_on_one_gpu(
    policy: str, millis: tuple[int, int], seed: int, inflate: float
) -> FillResult:
    """A debug-mode run (no over-allocation at any event) of pods a and b asking `millis` on
    one 1-GPU node."""
    pods = [pod(name, milli=m) for name, m in zip("ab", millis, strict=True)]
    return run_fgd_fill([node("n", gpus=1)], pods, policy, seed, inflate=inflate, debug=True)


@pytest.mark.parametrize("policy", POLICIES)
def test_exact_fit_fills_everything(policy):
    # One 1-GPU node; pods 600 + 400 = 1000 milli = capacity, inflate 1.0 -> no extra draws.
    # In either order both fit: allocation 100 % at 100 % arrived -> 0.00 unallocated.
    r = _two_pods_on_one_gpu(policy, (600, 400), 7, inflate=1.0)
    assert (r.pods_arrived, r.pods_failed, r.unallocated_gpu_pct_at_100) == (2, 0, 0.0)


@pytest.mark.parametrize("policy", POLICIES)
def test_second_600_cannot_fit(policy):
    # Two 600-milli pods on one GPU, inflate 1.2 (target 1200 = trace total, no extra draws):
    # arrived 60 % -> allocated 60 %; arrived 120 % -> the second fails, still 60 %.
    r = _two_pods_on_one_gpu(policy, (600, 600), 1, inflate=1.2)
    assert r.pods_failed == 1 and r.failed_gpu_milli == 600
    assert (60, 60.0) in r.curve and (120, 60.0) in r.curve
    assert r.unallocated_gpu_pct_at_100 is None  # no pod's arrived % rounds to 99..101


def test_cpu_only_nodes_are_dropped_and_bad_input_is_named():
    with pytest.raises(ValueError, match="no GPU nodes"):
        run_fgd_fill([node("cpu", gpus=0, model="")], [pod("a")], "fgd", 0)
    with pytest.raises(ValueError, match="unknown fill policy"):
        run_fgd_fill([node("n")], [pod("a")], "nope", 0)


def test_arrivals_shuffle_then_sample_with_replacement():
    trace = [pod(f"p{i}", milli=m) for i, m in enumerate([500, 1000, 250, 0, 750])]  # 2500 milli
    arr = fill_arrivals(trace, capacity_gpu_milli=10_000, inflate=1.3, rng=np.random.default_rng(3))
    assert sorted(p.name for p in arr[:5]) == sorted(p.name for p in trace)  # each original once
    total = sum(p.total_gpu_milli for p in arr)
    # Stop rule: the next draw would pass 13000; so total <= 13000 and total > 13000 - 1000.
    assert 12_000 < total <= 13_000
    assert all(p in trace for p in arr[5:])


def _write_trace(tmp: Path) -> tuple[Path, Path]:
    nodes = tmp / "nodes.csv"
    nodes.write_text(
        "sn,cpu_milli,memory_mib,gpu,model\n"
        "n0,32000,131072,2,T4\nn1,96000,393216,8,G2\nn2,8000,32768,0,\nn3,16000,65536,4,V100M16\n"
    )
    pods = tmp / "pods.csv"
    rows = ["name,cpu_milli,memory_mib,num_gpu,gpu_milli"]
    shapes = [
        (4000, 1, 500),
        (8000, 1, 1000),
        (2000, 0, 0),
        (12000, 2, 1000),
        (3000, 1, 250),
        (6000, 1, 810),
        (16000, 4, 1000),
        (1000, 1, 470),
    ]
    rows += [f"p{i},{c},4096,{n},{m}" for i, (c, n, m) in enumerate(shapes)]
    pods.write_text("\n".join(rows) + "\n")
    return nodes, pods


def test_same_seed_same_bytes_via_cli(tmp_path: Path, repo_dir: Path):
    nodes, pods = _write_trace(tmp_path)
    cmd = [
        sys.executable,
        "-m",
        "cli.main",
        "simulate",
        "fgd-fill",
        "--nodes",
        str(nodes),
        "--pods",
        str(pods),
        "--policy",
        "fgd",
        "--seed",
        "5",
        "--seed",
        "6",
        "--json",
    ]
    out1 = subprocess.run(cmd, cwd=repo_dir, capture_output=True, check=True).stdout
    out2 = subprocess.run(cmd, cwd=repo_dir, capture_output=True, check=True).stdout
    assert out1 == out2 and out1.startswith(b'[{"policy":"fgd","seed":5,')
    bad = subprocess.run(cmd[:-1] + ["--inflate", "0"], cwd=repo_dir, capture_output=True)
    assert bad.returncode == 2 and bad.stderr.decode().startswith("error: --inflate")


@settings(max_examples=25, deadline=None)
@given(
    st.sampled_from(POLICIES),
    st.integers(0, 10_000),
    st.lists(
        st.tuples(
            st.sampled_from([1000, 4000, 16000]),
            st.sampled_from([0, 1, 2, 4]),
            st.sampled_from([100, 250, 470, 810, 1000]),
        ),
        min_size=1,
        max_size=12,
    ),
)
def test_no_gpu_is_ever_over_allocated(policy, seed, shapes):
    """Debug mode checks every event against an independent ledger; any breach raises."""
    nodes = [
        node("a", gpus=2, cpu=8000),
        node("b", gpus=4, cpu=16000, model="G2"),
        node("c", gpus=1),
    ]
    trace = [
        pod(f"p{i}", num_gpu=n, milli=m if n == 1 else 1000, cpu=c)
        for i, (c, n, m) in enumerate(shapes)
    ]
    if sum(p.total_gpu_milli for p in trace) > 1.3 * 7000:
        return
    r = run_fgd_fill(nodes, trace, policy, seed, debug=True)
    xs = [x for x, _ in r.curve]
    assert xs == sorted(xs) and all(0 <= y <= 100 for _, y in r.curve)


def test_curve_sampler_rounds_and_widens():
    log = AllocationLog(total_gpu_milli=1000)
    for arrived, used in [(0, 0), (500, 500), (503, 500), (1300, 900)]:
        log.record(arrived, used)
    # x=50: two rows (50.0 % and 50.3 %) -> mean 50.0; x=49 and 51 borrow them (+/- 1 window);
    # x=130: 90.0; x=100: nothing within 99..101 -> absent.
    curve = dict(log.curve())
    assert curve[50] == 50.0 and curve[49] == 50.0 and curve[51] == 50.0 and curve[130] == 90.0
    assert 100 not in curve and curve[0] == 0.0


def test_fragmentation_curve_matches_hand_arithmetic():
    # One 1-GPU node; trace 700 + 300 milli (cpu 1000): typical shapes 700 and 300, 1/2 each.
    # 700 first -> 300 left: the 700 shape cannot be hosted, 0.5 * 300 = 150 milli = 15 % of
    # capacity at 70 % arrived. 300 first -> 700 left: both shapes fit, no GPU below either ->
    # 0 % at 30 %. Both placed -> nothing free -> 0 % at 100 %.
    trace = [pod("a", milli=700), pod("b", milli=300)]
    for seed, (x, expected) in {0: (70, 15.0), 3: (30, 0.0)}.items():  # seed 0: 700 first
        r = run_fgd_fill([node("n", gpus=1)], trace, "bestfit", seed, inflate=1.0)
        frag = dict(r.frag_curve)
        assert frag[x] == expected and dict(r.curve)[x] == float(x)
        assert frag[100] == 0.0 and r.to_json()["frag_amount_pct_at_100"] == 0.0


def test_cli_strict_names_the_bad_cell_and_lenient_skips_it(tmp_path: Path, repo_dir: Path):
    nodes = tmp_path / "n.csv"
    nodes.write_text("sn,cpu_milli,memory_mib,gpu,model\nn1,8000,1000,1,T4\n")
    pods = tmp_path / "p.csv"
    pods.write_text("name,cpu_milli,memory_mib,num_gpu,gpu_milli\np1,1000,10,1,500\nbad,x,1,1,1\n")
    cmd = [sys.executable, "-m", "cli.main", "simulate", "fgd-fill", "--nodes", str(nodes)]
    cmd += ["--pods", str(pods), "--policy", "bestfit", "--json"]
    strict = subprocess.run(cmd, cwd=repo_dir, capture_output=True, text=True)
    assert strict.returncode == 2
    assert (
        strict.stderr.strip()
        == f"error: {pods}:3: column 'cpu_milli': expected an integer, got 'x'"
    )
    lenient = subprocess.run(cmd + ["--lenient"], cwd=repo_dir, capture_output=True, text=True)
    assert lenient.returncode == 0 and "skipped 1 invalid rows" in lenient.stderr
    # p1 (500 milli) is drawn once more (500 + 500 = 1000); a third would pass 1.3 x 1000. Both
    # fit the one GPU -> 0 % unallocated at 100 % arrived.
    assert '"unallocated_gpu_pct_at_100":0.0' in lenient.stdout


def test_a_run_keeps_the_objects_alive_before_it_out_of_the_collectors_scans():
    """The trace and everything else alive when a run starts are frozen for the run
    (`frozen_heap`): full collections during it walk only what the run made. Afterwards the
    heap is thawed, and a caller's own freeze is left as it was."""
    import gc

    from simulator.fgd_fill import run as fill_run

    seen: list[int] = []
    orig = fill_run.FillCluster.feasible

    def feasible_noting_the_freeze(self, p):  # a stand-in spy around the real check
        seen.append(gc.get_freeze_count())
        return orig(self, p)

    fill_run.FillCluster.feasible = feasible_noting_the_freeze  # type: ignore[method-assign]
    try:
        assert gc.get_freeze_count() == 0
        _two_pods_on_one_gpu("tessera", (600, 400), 7, inflate=1.0)
        assert seen and min(seen) > 0  # frozen at every arrival
        assert gc.get_freeze_count() == 0  # thawed after
        gc.freeze()  # a caller (such as `tessera serve`) that froze its heap already
        _two_pods_on_one_gpu("tessera", (600, 400), 7, inflate=1.0)
        assert gc.get_freeze_count() > 0  # its objects stay frozen (not thawed by the run)
    finally:
        gc.unfreeze()
        fill_run.FillCluster.feasible = orig  # type: ignore[method-assign]
