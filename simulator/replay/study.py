"""Replay runs by policy name, and the bundled default study behind `tessera simulate compare`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from importlib import resources

from simulator.policies.replay.registry import DEFAULT_POLICIES, make_replay_policy
from simulator.replay.driver import ReplayResult, replay
from simulator.replay.seeds import summarize
from simulator.workloads.model import Workload
from simulator.workloads.synthetic import from_spec, generate, parse_spec
from simulator.workloads.traces import load, tiresias


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
    workload: Workload,
    names: Sequence[str],
    *,
    seed: int = 0,
    debug: bool = False,
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


def trace_workloads(
    trace: str, nodes: str | None = None, fmt: str = "auto"
) -> Callable[[int], list[Workload]]:
    """Per seed, the workload `--trace` names: a synthetic spec is regenerated with that seed
    (its own `seed=` is the study's first seed: `first_seed`); a trace file is the same every
    seed (only the policies' own randomness changes)."""
    if trace.split(":", 1)[0] == "synthetic":
        parse_spec(trace)  # bad options fail before any run
        return lambda s: [from_spec(trace, seed=s)]
    fixed = load(trace, nodes, fmt)
    return lambda s: [fixed]


def first_seed(trace: str | None, seed: int | None) -> int:
    """A study's first seed: `--seed`, else a synthetic spec's `seed=` (so
    `--trace synthetic:seed=3,...` studies seeds 3, 4, ...), else 0. Both given and different:
    ValueError (one line), since one of them would be ignored."""
    own = None
    if trace is not None and trace.split(":", 1)[0] == "synthetic":
        got = parse_spec(trace).get("seed")
        own = None if got is None else int(got)
    if seed is not None and own is not None and seed != own:
        raise ValueError(f"--seed {seed} and the spec's seed={own} disagree: give one of them")
    return seed if seed is not None else own if own is not None else 0


def compare(seed: int = 0, debug: bool = False, workers: int = 1) -> list[ReplayResult]:
    jobs = [(w, n, seed, debug) for w in bundled_workloads(seed) for n in DEFAULT_POLICIES]
    return _run_all(jobs, workers)


@dataclass(frozen=True)
class SeedStudy:
    """One workload family over several seeds: every run, and the per-metric summary
    (`simulator.replay.seeds.summarize`: mean, 95 % interval, best or tie)."""

    workload: str
    seeds: tuple[int, ...]
    runs: tuple[ReplayResult, ...]
    summary: dict[str, object]


def compare_seeds(
    seeds: Sequence[int],
    workloads: Callable[[int], list[Workload]] = bundled_workloads,
    names: Sequence[str] = DEFAULT_POLICIES,
    *,
    workers: int = 1,
    debug: bool = False,
) -> list[SeedStudy]:
    """Each seed's workloads through each policy; the i-th workload of every seed forms one
    study (its name is the first seed's, with the seed left out)."""
    if len(seeds) < 2:
        raise ValueError(f"a seed study needs at least 2 seeds for an interval, got {len(seeds)}")
    per_seed = [workloads(s) for s in seeds]
    jobs = [
        (w, n, s, debug) for s, ws in zip(seeds, per_seed, strict=True) for w in ws for n in names
    ]
    results = iter(_run_all(jobs, workers))
    grouped: list[list[ReplayResult]] = [[] for _ in per_seed[0]]
    for ws in per_seed:
        for i, _ in enumerate(ws):
            grouped[i].extend(next(results) for _ in names)
    out = []
    for i, runs in enumerate(grouped):
        by_policy = {n: [r.metrics for r in runs if r.policy == n] for n in names}
        label = per_seed[0][i].name.replace(f"-seed{seeds[0]}", "")
        out.append(SeedStudy(label, tuple(seeds), tuple(runs), summarize(by_policy)))
    return out
