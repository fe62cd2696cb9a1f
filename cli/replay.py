"""`tessera simulate replay` and `tessera simulate compare` (time-based replay, C2).

Attached to the `simulate` group: `cli/simulate.py` when it is registered first, else a
group created here (so `compare`, the README's main job, works either way).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from cli.errors import exits_2_on_bad_input

if TYPE_CHECKING:
    from simulator.replay.driver import ReplayResult
    from simulator.replay.study import SeedStudy
    from simulator.serving.metrics import ServingResult
    from simulator.workloads.model import Workload


def _simulate_group(app: typer.Typer) -> typer.Typer:
    for info in app.registered_groups:
        if info.name == "simulate" and info.typer_instance is not None:
            return info.typer_instance
    sim = typer.Typer(
        help="Trace-driven simulator: FGD fill, time-based replay, comparisons.",
        no_args_is_help=True,
    )
    app.add_typer(sim, name="simulate")
    return sim


def _emit(results: list[ReplayResult], report: Path | None, as_json: bool) -> None:
    from simulator.report.compare import table, to_json
    from simulator.report.files import write_report

    if report is not None:
        for p in write_report(report, results):
            typer.echo(f"wrote {p}", err=True)
    typer.echo(to_json(results) if as_json else table(results))


def add_commands(sim: typer.Typer) -> None:
    @sim.command("replay")
    @exits_2_on_bad_input
    def replay_cmd(
        trace: str = typer.Option(
            ...,
            "--trace",
            help="Tiresias CSV, openb pod CSV (11 "
            "columns), DLRM v2025 instance CSV, GenAI v2026 "
            "lora_request_trace CSV, schema v1 CSV/JSONL (docs/"
            "trace-schema.md) or 'synthetic[:key=value,...]' "
            "(seed, jobs, nodes, mig_nodes, mean_interarrival_s, "
            "inference, training, pipeline, notebook; docs/simulator.md)",
        ),
        fmt: str = typer.Option(
            "auto",
            "--format",
            help="auto (by header), tiresias, "
            "openb, dlrm, dlrm-gpu (HN instances on the GPU pool only), "
            "genai, schema",
        ),
        policies: str = typer.Option(
            "tessera,volcano,kube-default",
            "--policies",
            help="comma list: tessera, tessera-static, volcano, kube-default",
        ),
        report: Path | None = typer.Option(
            None, "--report", help="write report.html (charts), report.json and CSVs here"
        ),
        nodes: str | None = typer.Option(
            None,
            "--nodes",
            help="openb node CSV (default: openb_node_list_gpu_node.csv beside the trace)",
        ),
        seed: int = typer.Option(0, "--seed"),
        as_json: bool = typer.Option(False, "--json", help="print the metrics as JSON"),
        debug: bool = typer.Option(
            False, "--debug", help="check for over-allocation after every event"
        ),
        workers: int = typer.Option(1, "--workers", help="local processes, one run each"),
    ) -> None:
        """Replay a trace with arrivals and departures through each policy and compare."""
        from simulator.policies.replay.registry import parse_policies
        from simulator.replay.study import run_policies
        from simulator.report.document import prepare_report_dir
        from simulator.workloads.traces import load

        names = parse_policies(policies)
        if seed < 0:  # was numpy's "expected non-negative integer", naming no option
            raise ValueError(f"--seed must be >= 0, got {seed}")
        if report is not None:
            prepare_report_dir(report)
        workload = load(trace, nodes, fmt)
        _warn_unplaceable([workload])
        _emit(
            run_policies(workload, names, seed=seed, debug=debug, workers=workers), report, as_json
        )

    @sim.command("compare")
    @exits_2_on_bad_input
    def compare_cmd(
        seed: int | None = typer.Option(
            None, "--seed", help="first seed (default: a synthetic spec's seed=, else 0)"
        ),
        seeds: int = typer.Option(
            5,
            "--seeds",
            help="how many seeds (seed, seed+1, ...); "
            "each metric is a mean with a 95 % interval over them",
        ),
        trace: str | None = typer.Option(
            None,
            "--trace",
            help="instead of the bundled study: "
            "'synthetic:key=value,...' (regenerated per seed) "
            "or a trace CSV, as for replay",
        ),
        fmt: str = typer.Option("auto", "--format", help="trace format, as for replay"),
        nodes: str | None = typer.Option(None, "--nodes", help="openb node CSV, as for replay"),
        policies: str = typer.Option(
            "tessera,tessera-static,volcano,kube-default",
            "--policies",
            help="comma list of replay policies",
        ),
        report: Path | None = typer.Option(
            None,
            "--report",
            help="write report.html "
            "(verdicts from the intervals, charts), report.json "
            "and CSVs of every seed's runs here",
        ),
        as_json: bool = typer.Option(False, "--json", help="print runs and summaries as JSON"),
        workers: int = typer.Option(1, "--workers", help="local processes, one run each"),
        serving: bool = typer.Option(
            True,
            "--serving/--no-serving",
            help="with the bundled "
            "study: also serve the GenAI requests and the multimodal "
            "day's requests (docs/serving.md)",
        ),
        genai: Path = typer.Option(
            Path("../shared/traces/alibaba-genai-v2026/lora_request_trace.csv"),
            "--genai",
            help="GenAI v2026 lora_request_trace.csv (skipped with a note when absent)",
        ),
    ) -> None:
        """The bundled default study (a synthetic multimodal day and the Tiresias 60-job trace)
        or --trace, over several seeds: per metric the mean with a 95 % interval, the best
        policy marked, and a tie printed where the intervals overlap."""
        from simulator.policies.replay.registry import parse_policies
        from simulator.replay.seeds import table
        from simulator.replay.study import (
            bundled_workloads,
            compare_seeds,
            first_seed,
            trace_workloads,
        )
        from simulator.report.document import prepare_report_dir
        from simulator.workloads.traces import spec_name

        names = parse_policies(policies)
        if not 2 <= seeds <= MAX_SEEDS:  # 10**12 seeds ran until killed
            raise ValueError(f"--seeds must be 2..{MAX_SEEDS} (an interval needs two), got {seeds}")
        if seed is not None and seed < 0:
            raise ValueError(f"--seed must be >= 0, got {seed}")
        seed = first_seed(trace, seed)
        if report is not None:
            prepare_report_dir(report)
        make = bundled_workloads if trace is None else trace_workloads(trace, nodes, fmt)
        if trace is not None and spec_name(trace) is None:
            _warn_unplaceable(make(seed))  # a trace file: the same workload every seed
        studies = compare_seeds(range(seed, seed + seeds), make, names, workers=workers)
        seed_list = list(range(seed, seed + seeds))
        served = _serve_bundled(seed_list, genai, names) if serving and trace is None else []
        if report is not None:
            from simulator.report.document import write_report_dir
            from simulator.report.from_study import study_report

            for p in write_report_dir(report, study_report(studies, served, "Tessera study")):
                typer.echo(f"wrote {p}", err=True)
        if as_json:
            typer.echo(studies_json(studies))
        else:
            typer.echo("\n\n".join(table(st.workload, st.summary) for st in studies))
            if served:
                from simulator.serving.study import seed_summaries

                typer.echo(
                    "\n\nServing:\n"
                    + "\n\n".join(table(name, summary) for name, summary in seed_summaries(served))
                )


MAX_SEEDS = 1000


def _warn_unplaceable(workloads: list[Workload]) -> None:
    """Refuse a trace none of whose jobs fits its cluster; warn when some never can."""
    from simulator.replay.feasible import check_placeable

    for w in workloads:
        if (warning := check_placeable(w)) is not None:
            typer.echo(f"warning: {warning}", err=True)


def _serve_bundled(seeds: list[int], genai: Path, names: list[str]) -> list[ServingResult]:
    """The serving half of the study, every seed, with a progress bar on stderr."""
    from rich.console import Console
    from rich.progress import Progress

    from simulator.serving.bundled import bundled_serving

    policies = [n for n in names if n != "tessera-static"] or names
    trace = genai if genai.is_file() else None
    if trace is None:
        typer.echo(
            f"note: {genai} not found; serving study without the GenAI trace (pass --genai PATH)",
            err=True,
        )
    cases = 2 if trace is not None else 1  # the GenAI window and the multimodal day
    total = cases * len(policies) * len(seeds)
    with Progress(transient=True, console=Console(stderr=True)) as bar:
        task = bar.add_task("serving study", total=total)
        return list(
            bundled_serving(
                seeds, trace, policies, lambda what: bar.update(task, advance=1, description=what)
            )
        )


def studies_json(studies: list[SeedStudy]) -> str:
    """Deterministic JSON: per study its seeds, summary and every run's metrics."""
    doc = [
        {
            "workload": st.workload,
            "seeds": list(st.seeds),
            "summary": st.summary,
            "runs": [
                {
                    "policy": r.policy,
                    "workload": r.workload,
                    "seed": r.seed,
                    "events": r.events,
                    "metrics": r.metrics,
                }
                for r in st.runs
            ],
        }
        for st in studies
    ]
    return json.dumps(doc, sort_keys=True, separators=(",", ":"))


def register(app: typer.Typer) -> None:
    add_commands(_simulate_group(app))
