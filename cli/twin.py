"""`tessera twin run`: replay a trace slice on a real control plane through the real
schedulers (Tessera, kube-scheduler, Volcano; KWOK runs the pods) and compare each with its
simulated model (docs/twin.md). A development tool: it imports `devcluster` lazily."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from cli.errors import BadInput, exits_2_on_bad_input

group = typer.Typer(help="Real control plane vs simulator, side by side.", no_args_is_help=True)


@group.command("run")
@exits_2_on_bad_input
def run_cmd(
    trace: str = typer.Option(..., "--trace", help="a trace `tessera simulate replay` reads, "
                              "or 'synthetic[:seed=N,jobs=N,nodes=N,mig_nodes=N]'"),
    jobs: int | None = typer.Option(None, "--jobs", help="the first N submissions only"),
    speedup: float = typer.Option(100.0, "--speedup", help="trace seconds per wall second"),
    schedulers: str = typer.Option("tessera,default,volcano", "--schedulers",
                                   help="comma list: tessera, default, volcano"),
    report: Path | None = typer.Option(None, "--report", help="write twin.json, a table and "
                                       "every component's logs here"),
    as_json: bool = typer.Option(False, "--json", help="print the comparison as JSON"),
    seed: int = typer.Option(0, "--seed", help="the models' first tie-break seed"),
    model_seeds: str = typer.Option("20", "--model-seeds", metavar="N",
                                    help="judge each real run against its model's range over "
                                    "seeds SEED..SEED+N-1 (1: against SEED alone)"),
    fmt: str = typer.Option("auto", "--format", help="trace format (as simulate replay)"),
) -> None:
    """Each scheduler in turn on a fresh cluster; then the simulator on the same slice."""
    from devcluster import binaries
    from devcluster.procs import LaunchError
    from devcluster.twin.real import Binaries
    from devcluster.twin.run import parse_model_seeds, parse_schedulers, slice_jobs, twin_run
    from devcluster.twin.verdict import table
    from simulator.workloads.traces import load

    names = parse_schedulers(schedulers)
    n_seeds = parse_model_seeds(model_seeds)
    if speedup <= 0:
        raise BadInput(f"--speedup {speedup}: must be > 0")
    if report is not None:  # before the clusters start: a bad folder failed only after them
        from simulator.report.document import prepare_report_dir

        prepare_report_dir(report)
    workload = slice_jobs(load(trace, None, fmt), jobs)
    try:
        k8s = binaries.build(stream=True)
        volcano, kwok = binaries.build_twin(stream=True)
    except LaunchError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    bins = Binaries(k8s=k8s, kwok=kwok / "kwok", volcano=volcano)
    logs = report / "logs" if report else None
    try:
        result = twin_run(workload, names, bins, speedup=speedup, seed=seed,
                          model_seeds=n_seeds, keep_logs_in=logs)  # fmt: skip
    except LaunchError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    doc = {
        "workload": result.workload, "jobs": result.jobs, "speedup": result.speedup,
        "model_seeds": result.model_seeds,
        "comparisons": [c.to_json() for c in result.comparisons],
        "real": result.real, "simulated": result.sim,
    }  # fmt: skip
    text = table(result.comparisons)
    if report is not None:
        report.mkdir(parents=True, exist_ok=True)
        (report / "twin.json").write_text(json.dumps(doc, indent=2) + "\n")
        (report / "table.txt").write_text(text + "\n")
        (report / "placements.json").write_text(json.dumps(result.placements, indent=1) + "\n")
        typer.echo(f"wrote {report}/twin.json, table.txt, placements.json, logs/", err=True)
    typer.echo(json.dumps(doc, indent=2) if as_json else text)


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="twin")
