"""Replay runs by policy name, and the bundled default study behind `tessera simulate compare`."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from importlib import resources

from simulator.policies.replay.registry import DEFAULT_POLICIES, make_replay_policy
from simulator.replay.driver import ReplayResult, replay
from simulator.workloads.model import Workload
from simulator.workloads.synthetic import generate
from simulator.workloads.traces import tiresias


def _one(job: tuple[Workload, str, int, bool]) -> ReplayResult:
    workload, name, seed, debug = job
    return replay(workload, make_replay_policy(name, workload, seed), seed=seed, debug=debug)


def _run_all(jobs: list[tuple[Workload, str, int, bool]], workers: int) -> list[ReplayResult]:
    """Runs are independent, so a local process pool gives the same results in the same order."""
    if workers < 1:
        raise ValueError(f"--workers must be >= 1, got {workers}")
    if workers == 1 or len(jobs) == 1:
        return [_one(j) for j in jobs]
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
        return list(pool.map(_one, jobs))


def run_policies(
    workload: Workload, names: Sequence[str], *, seed: int = 0, debug: bool = False,
    workers: int = 1,
) -> list[ReplayResult]:
    return _run_all([(workload, n, seed, debug) for n in names], workers)


def bundled_workloads(seed: int = 0) -> list[Workload]:
    """The default study: a synthetic multimodal day on 16 x 8 H100 (4 nodes half MIG), and
    the bundled Tiresias 60-job trace on 2 x 8 H100."""
    csv = resources.files("simulator.workloads").joinpath("tiresias_60_job.csv")
    with resources.as_file(csv) as path:
        tir = tiresias(path)
    return [generate(seed=seed, jobs=400, nodes=16, mig_nodes=4, mean_interarrival_s=300.0), tir]


def compare(seed: int = 0, debug: bool = False, workers: int = 1) -> list[ReplayResult]:
    jobs = [(w, n, seed, debug) for w in bundled_workloads(seed) for n in DEFAULT_POLICIES]
    return _run_all(jobs, workers)
