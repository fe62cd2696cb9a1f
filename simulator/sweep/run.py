"""One sweep cell = one serving run; cells are independent, so a local process pool and Ray
tasks return the same results, and the JSON (cells in input order, keys sorted) is identical."""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace

from simulator.serving.config import Autoscale, ServingSpec
from simulator.serving.requests import load_requests
from simulator.serving.study import run_serving
from simulator.workloads.traces import spec_name


@dataclass(frozen=True)
class Cell:
    policy: str
    trace: str  # a request trace path or 'multimodal[:k=v,...]'
    seed: int
    load: float  # arrival times divided by this (2.0 = twice the request rate)
    nodes: int = 2
    mig_nodes: int = 0


def cells(policies: Sequence[str], traces: Sequence[str], seeds: Sequence[int],
          loads: Sequence[float], nodes: int = 2, mig_nodes: int = 0) -> list[Cell]:
    for load in loads:
        if not load > 0:
            raise ValueError(f"load factors must be > 0, got {load}")
    return [Cell(p, t, s, f, nodes, mig_nodes)
            for t, s, f, p in itertools.product(traces, seeds, loads, policies)]


def run_cell(cell: Cell) -> dict[str, object]:
    trace = cell.trace
    if spec_name(trace) == "multimodal" and "seed=" not in trace:  # not multimodal_day.csv
        trace = f"multimodal:seed={cell.seed}" + (
            "," + trace.partition(":")[2] if ":" in trace else "")
    reqs = [replace(q, arrival_s=q.arrival_s / cell.load) for q in load_requests(trace)]
    res = run_serving(reqs, ServingSpec(nodes=cell.nodes, mig_nodes=cell.mig_nodes),
                      Autoscale(), cell.policy, cell.trace, cell.seed)
    return {"cell": asdict(cell), "summary": res.summary}


def sweep_json(results: Sequence[dict[str, object]]) -> str:
    return json.dumps(list(results), sort_keys=True, separators=(",", ":"))


def run_local(todo: Sequence[Cell], workers: int = 1) -> list[dict[str, object]]:
    if workers < 1:
        raise ValueError(f"--workers must be >= 1, got {workers}")
    if workers == 1:
        return [run_cell(c) for c in todo]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(run_cell, todo))


def run_ray(todo: Sequence[Cell], address: str) -> list[dict[str, object]]:
    """Each cell a Ray task; results gathered in input order. `address` as `ray.init` takes it
    ('auto', 'ray://head:10001', or 'local' to start a local instance)."""
    import ray

    if not ray.is_initialized():
        ray.init(address=None if address == "local" else address, include_dashboard=False,
                 log_to_driver=False)
    task = ray.remote(run_cell)
    return list(ray.get([task.remote(c) for c in todo]))
