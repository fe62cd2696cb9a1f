"""`tessera simulate serve`: model serving driven by real requests (docs/serving.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from cli.errors import BadInput, bounded, exits_2_on_bad_input
from cli.replay import _simulate_group

# Cluster sizes and times an offline run accepts: `--nodes 100000000` ran until killed,
# `--gpus-per-node 100000` overflowed an int16 column (a traceback).
MAX_NODES = 10_000
MAX_GPUS_PER_NODE = 64
MAX_SECONDS = 1e9


def _table(rows: list[dict[str, object]]) -> str:
    head = list(rows[0])
    cells = [[f"{v:.1f}" if isinstance(v, float) else str(v) for v in r.values()] for r in rows]
    widths = [max(len(x) for x in col) for col in zip(head, *cells, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))]
    lines += ["  ".join(c.rjust(w) if i > 1 else c.ljust(w)
                        for i, (c, w) in enumerate(zip(row, widths, strict=True)))
              for row in cells]
    return "\n".join(lines)


def summary_table(results: list[Any]) -> str:
    from simulator.report.from_serving import SUMMARY_KEYS

    return _table([{"trace": r.trace, "policy": r.policy,
                    **{k: r.summary[k] for k in SUMMARY_KEYS}} for r in results])


def add_commands(sim: typer.Typer) -> None:
    @sim.command("serve")
    @exits_2_on_bad_input
    def serve_cmd(
        trace: str = typer.Option(..., "--trace", help="GenAI lora_request_trace CSV, a "
                                  "schema v1 CSV/JSONL with kind=request records, or "
                                  "'multimodal[:seed=N,...]'"),
        nodes: int = typer.Option(2, "--nodes", help="GPU nodes in the serving cluster"),
        mig_nodes: int = typer.Option(0, "--mig-nodes", help="of those, nodes with every GPU "
                                      "in MIG mode (static 1g+1g+2g+3g to start)"),
        gpus_per_node: int = typer.Option(8, "--gpus-per-node"),
        gpu: str = typer.Option("H100-80GB", "--gpu", help="GPU model of every node"),
        replica_gpu: str | None = typer.Option(None, "--replica-gpu", help="what every "
                                               "replica asks, overriding the trace's per-model "
                                               "gpu: milli:M, mig:<profile> or whole:N (default: "
                                               "the trace's, else milli:250)"),
        policies: str = typer.Option("tessera,volcano,kube-default", "--policies"),
        slo_wait: float = typer.Option(10.0, "--slo-wait", help="seconds a request may wait "
                                       "before it starts (when the trace gives no slo_ms)"),
        target_queue: int = typer.Option(2, "--target-queue", help="requests per replica "
                                         "before scaling out"),
        cooldown: float = typer.Option(300.0, "--cooldown", help="idle seconds before a "
                                       "replica is removed"),
        cold_start: float = typer.Option(30.0, "--cold-start", help="model-load seconds"),
        min_replicas: int = typer.Option(0, "--min-replicas"),
        start_h: float = typer.Option(0.0, "--start-h", help="window start, hours into trace"),
        hours: float | None = typer.Option(None, "--hours", help="window length (all: omit)"),
        seed: int = typer.Option(0, "--seed"),
        report: Path | None = typer.Option(None, "--report", help="write report.html, "
                                           "report.json and CSVs here"),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Serve a request trace with queue-length autoscaling under each policy."""
        from packing.catalogue import get_model
        from simulator.policies.replay.registry import parse_policies
        from simulator.serving.config import Autoscale, ServingSpec
        from simulator.serving.requests import load_requests, window, with_shape
        from simulator.serving.study import run_serving, serving_json

        names = parse_policies(policies)
        for option, value, lo, hi, above in (
            ("--nodes", nodes, 1, MAX_NODES, False), ("--mig-nodes", mig_nodes, 0, nodes, False),
            ("--gpus-per-node", gpus_per_node, 1, MAX_GPUS_PER_NODE, False),
            ("--slo-wait", slo_wait, 0, MAX_SECONDS, True),
            ("--target-queue", target_queue, 1, 10**6, False),
            ("--cooldown", cooldown, 0, MAX_SECONDS, False),
            ("--cold-start", cold_start, 0, MAX_SECONDS, False),
            ("--min-replicas", min_replicas, 0, 10**6, False),
            ("--start-h", start_h, 0, MAX_SECONDS / 3600, False),
            ("--hours", 1.0 if hours is None else hours, 0, MAX_SECONDS / 3600, True),
        ):  # fmt: skip
            bounded(option, value, lo, hi, above_lo=above)
        # An unknown model ran as a generic GPU without MIG, silently (refused with MIG
        # nodes and by `plan capacity`): one line naming the known models.
        get_model(gpu)
        if report is not None:  # before the run: a bad folder failed only after it
            from simulator.report.document import prepare_report_dir

            prepare_report_dir(report)
        spec = ServingSpec(nodes=nodes, mig_nodes=mig_nodes, gpus_per_node=gpus_per_node,
                           gpu_model=gpu,
                           replica_gpu=replica_gpu or "milli:250", slo_wait_s=slo_wait)
        scale = Autoscale(target_queue=target_queue, cooldown_s=cooldown,
                          cold_start_s=cold_start, min_replicas=min_replicas)
        reqs = with_shape(load_requests(trace), replica_gpu)
        if hours is not None:
            reqs = window(reqs, start_h * 3600, hours)
            if not reqs:
                raise BadInput(f"no requests in the window {start_h} h + {hours} h")
        results = [run_serving(reqs, spec, scale, n, trace, seed) for n in names]
        if report is not None:
            from simulator.report.document import write_report_dir
            from simulator.report.from_serving import serving_report

            for p in write_report_dir(report, serving_report(results)):
                typer.echo(f"wrote {p}", err=True)
        if as_json:
            typer.echo(serving_json(results))
        else:
            from simulator.report.from_serving import SUMMARY_KEYS

            typer.echo(_table([{"policy": r.policy, **{k: r.summary[k] for k in SUMMARY_KEYS}}
                               for r in results]))


def register(app: typer.Typer) -> None:
    add_commands(_simulate_group(app))
    add_sweep(_simulate_group(app))


def add_sweep(sim: typer.Typer) -> None:
    @sim.command("sweep")
    @exits_2_on_bad_input
    def sweep_cmd(
        traces: str = typer.Option("multimodal", "--traces", help="semicolon-separated request "
                                   "traces (paths or 'multimodal[:k=v ...]')"),
        policies: str = typer.Option("tessera,volcano,kube-default", "--policies"),
        seeds: str = typer.Option("0", "--seeds", help="comma list of seeds"),
        loads: str = typer.Option("1.0", "--loads", help="comma list of load factors"),
        nodes: int = typer.Option(3, "--nodes"),
        mig_nodes: int = typer.Option(2, "--mig-nodes"),
        ray: str | None = typer.Option(None, "--ray", help="Ray address ('auto', "
                                       "'ray://head:10001', 'local'); else a local pool"),
        workers: int = typer.Option(1, "--workers", help="local processes without --ray"),
    ) -> None:
        """Serving sweep (policies x traces x seeds x loads); prints one JSON document."""
        from simulator.policies.replay.registry import parse_policies
        from simulator.sweep.run import cells, run_local, run_ray, sweep_json
        from simulator.workloads.multimodal import BOUNDS

        try:
            seed_list = [int(s) for s in seeds.split(",") if s.strip()]
            load_list = [float(f) for f in loads.split(",") if f.strip()]
        except ValueError:
            raise BadInput(f"--seeds/--loads: numbers expected, got {seeds!r} / "
                           f"{loads!r}") from None
        lo, hi = (int(b) for b in BOUNDS["seed"])  # a multimodal trace's seed= range
        bad = next((s for s in seed_list if not lo <= s <= hi), None)
        if bad is not None:  # was refused as "multimodal option seed", an option never given
            raise BadInput(f"--seeds: each seed must be {lo}..{hi}, got {bad}")
        for option, values in (("--seeds", seed_list), ("--loads", load_list)):
            if len(set(values)) != len(values):  # a repeated cell counted twice in the summary
                raise BadInput(f"{option}: a value given twice")
        bounded("--nodes", nodes, 1, MAX_NODES)
        bounded("--mig-nodes", mig_nodes, 0, nodes)
        todo = cells(parse_policies(policies), [t for t in traces.split(";") if t],
                     seed_list, load_list, nodes, mig_nodes)
        results = run_ray(todo, ray) if ray else run_local(todo, workers)
        typer.echo(sweep_json(results))
