"""`tessera plan capacity`: the smallest cluster meeting request-wait SLOs, per policy."""

from __future__ import annotations

from pathlib import Path

import typer

from cli.errors import bounded, exits_2_on_bad_input
from cli.serving import MAX_GPUS_PER_NODE, MAX_NODES, MAX_SECONDS


def _plan_group(app: typer.Typer) -> typer.Typer:
    for info in app.registered_groups:
        if info.name == "plan" and info.typer_instance is not None:
            return info.typer_instance
    plan = typer.Typer(help="Offline planners.", no_args_is_help=True)
    app.add_typer(plan, name="plan")
    return plan


def register(app: typer.Typer) -> None:
    plan = _plan_group(app)

    @plan.command("capacity")
    @exits_2_on_bad_input
    def capacity_cmd(
        trace: str = typer.Option(..., "--trace", help="request trace: GenAI CSV, schema "
                                  "v1 CSV/JSONL or 'multimodal[:seed=N,...]'"),
        slo: str = typer.Option(..., "--slo", help="wait objectives, e.g. p95=2s,p99=10s"),
        gpu: str = typer.Option("H100-80GB", "--gpu", help="GPU model of every node"),
        policies: str = typer.Option("tessera,volcano,kube-default", "--policies"),
        gpus_per_node: int = typer.Option(8, "--gpus-per-node"),
        mig_fraction: str = typer.Option("auto", "--mig-fraction", help="share of nodes "
                                         "with every GPU in MIG mode, 0..1, or auto (the "
                                         "trace's MIG share of offered load)"),
        mig_layouts: str = typer.Option("planner", "--mig-layouts", help="planner (the "
                                        "repartition planner's layouts for the trace's MIG "
                                        "demand mix) or static (1g.10gb x2 + 2g.20gb + "
                                        "3g.40gb on every MIG GPU)"),
        max_nodes: int = typer.Option(64, "--max-nodes"),
        min_replicas: int = typer.Option(0, "--min-replicas"),
        cold_start: float = typer.Option(30.0, "--cold-start"),
        replica_gpu: str | None = typer.Option(None, "--replica-gpu", help="what every "
                                               "replica asks, overriding the trace's per-model "
                                               "gpu: milli:M, mig:<profile> or whole:N (default: "
                                               "the trace's, else milli:250)"),
        start_h: float = typer.Option(0.0, "--start-h"),
        hours: float | None = typer.Option(None, "--hours"),
        seed: int = typer.Option(0, "--seed"),
        report: Path | None = typer.Option(None, "--report"),
    ) -> None:
        """Search the node count per policy; print GPUs saved by tessera for the same SLO."""
        from simulator.capacity.layouts import PlannedLayouts, mig_mix
        from simulator.capacity.plan import plan_capacity, savings_sentence
        from simulator.capacity.slo import parse_slo
        from simulator.policies.replay.registry import parse_policies
        from simulator.serving.config import Autoscale, ServingSpec
        from simulator.serving.requests import load_requests, window, with_shape

        objectives = parse_slo(slo)
        if mig_layouts not in ("planner", "static"):
            raise ValueError(f"--mig-layouts must be planner or static, got {mig_layouts!r}")
        fraction = None if mig_fraction == "auto" else _fraction(mig_fraction)
        names = parse_policies(policies)
        for option, value, lo, hi, above in (
            ("--gpus-per-node", gpus_per_node, 1, MAX_GPUS_PER_NODE, False),
            ("--max-nodes", max_nodes, 1, MAX_NODES, False),
            ("--min-replicas", min_replicas, 0, 10**6, False),
            ("--cold-start", cold_start, 0, MAX_SECONDS, False),
            ("--start-h", start_h, 0, MAX_SECONDS / 3600, False),
            ("--hours", 1.0 if hours is None else hours, 0, MAX_SECONDS / 3600, True),
        ):  # fmt: skip
            bounded(option, value, lo, hi, above_lo=above)
        if report is not None:  # before the search: a bad folder failed only after it
            from simulator.report.document import prepare_report_dir

            prepare_report_dir(report)
        base = ServingSpec(nodes=1, gpus_per_node=gpus_per_node, gpu_model=gpu,
                           replica_gpu=replica_gpu or "milli:250")
        scale = Autoscale(min_replicas=min_replicas, cold_start_s=cold_start)
        reqs = with_shape(load_requests(trace), replica_gpu)
        if hours is not None:
            reqs = window(reqs, start_h * 3600, hours)
        if not reqs:
            raise ValueError("no requests to plan for")

        def show(policy: str, p: object) -> None:
            typer.echo(f"  {policy}: {p}", err=True)

        layouts = PlannedLayouts(mig_mix(reqs, base), gpu, planner=mig_layouts == "planner")
        caps = plan_capacity(reqs, base, scale, names, objectives, mig_fraction=fraction,
                             max_nodes=max_nodes, seed=seed, layouts=layouts, on_probe=show)
        for c in caps:
            got = "not met" if c.nodes is None else f"{c.nodes} nodes = {c.gpus} GPUs"
            typer.echo(f"{c.policy:<14} {got}  (runs at nodes: "
                       f"{', '.join(str(p.nodes) for p in c.probes)})")
        for row in layouts.rows(gpus_per_node):
            typer.echo(f"MIG layout at {row['mig_gpus']} MIG GPUs: {row['layout']} on "
                       f"{row['gpus_with_layout']} GPUs ({row['source']})")
        typer.echo(savings_sentence(caps, objectives))
        if report is not None:
            from simulator.report.document import write_report_dir
            from simulator.report.from_capacity import capacity_report

            name = trace if trace.partition(":")[0] == "multimodal" else Path(trace).name
            doc = capacity_report(caps, objectives, name, layouts=layouts.rows(gpus_per_node))
            for path in write_report_dir(report, doc):
                typer.echo(f"wrote {path}", err=True)


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"--mig-fraction must be a number in 0..1 or auto, got {text!r}") from None
    if not 0 <= value <= 1:
        raise ValueError(f"--mig-fraction must be in 0..1 or auto, got {text!r}")
    return value
