"""`tessera simulate replay` and `tessera simulate compare` (time-based replay, C2).

Attached to the `simulate` group: `cli/simulate.py` when it is registered first, else a
group created here (so `compare`, the README's main job, works either way).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from cli.errors import exits_2_on_bad_input

if TYPE_CHECKING:
    from simulator.replay.driver import ReplayResult


def _simulate_group(app: typer.Typer) -> typer.Typer:
    for info in app.registered_groups:
        if info.name == "simulate" and info.typer_instance is not None:
            return info.typer_instance
    sim = typer.Typer(help="Trace-driven simulator: FGD fill, time-based replay, comparisons.",
                      no_args_is_help=True)
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
        trace: str = typer.Option(..., "--trace", help="Tiresias CSV, openb pod CSV (11 "
                                  "columns), DLRM v2025 instance CSV, GenAI v2026 "
                                  "lora_request_trace CSV, schema v1 CSV/JSONL (docs/"
                                  "trace-schema.md) or "
                                  "'synthetic[:seed=N,jobs=N,nodes=N,mig_nodes=N]'"),
        fmt: str = typer.Option("auto", "--format", help="auto (by header), tiresias, "
                                "openb, dlrm, dlrm-gpu (HN instances on the GPU pool only), "
                                "genai, schema"),
        policies: str = typer.Option("tessera,volcano,kube-default", "--policies",
                                     help="comma list: tessera, tessera-static, volcano, "
                                     "kube-default"),
        report: Path | None = typer.Option(None, "--report", help="write report.html "
                                           "(charts), report.json and CSVs here"),
        nodes: str | None = typer.Option(None, "--nodes", help="openb node CSV (default: "
                                         "openb_node_list_gpu_node.csv beside the trace)"),
        seed: int = typer.Option(0, "--seed"),
        as_json: bool = typer.Option(False, "--json", help="print the metrics as JSON"),
        debug: bool = typer.Option(False, "--debug", help="check for over-allocation after "
                                   "every event"),
        workers: int = typer.Option(1, "--workers", help="local processes, one run each"),
    ) -> None:
        """Replay a trace with arrivals and departures through each policy and compare."""
        from simulator.policies.replay.registry import parse_policies
        from simulator.replay.study import run_policies
        from simulator.workloads.traces import load

        names = parse_policies(policies)
        workload = load(trace, nodes, fmt)
        _emit(run_policies(workload, names, seed=seed, debug=debug, workers=workers), report,
              as_json)

    @sim.command("compare")
    @exits_2_on_bad_input
    def compare_cmd(
        seed: int = typer.Option(0, "--seed"),
        report: Path | None = typer.Option(None, "--report", help="write report.html "
                                           "(charts), report.json and CSVs here"),
        as_json: bool = typer.Option(False, "--json"),
        workers: int = typer.Option(1, "--workers", help="local processes, one run each"),
    ) -> None:
        """The bundled default study: tessera (dynamic and static MIG), volcano and kube-default
        on a synthetic multimodal trace and the bundled Tiresias 60-job trace."""
        from simulator.replay.study import compare

        _emit(compare(seed=seed, workers=workers), report, as_json)


def register(app: typer.Typer) -> None:
    add_commands(_simulate_group(app))
