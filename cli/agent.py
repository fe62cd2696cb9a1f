"""`tessera agent`: the GPU node agent (runs as a DaemonSet; `--once` prints one sample).

Reads NVML (or replays a recorded capture with `--nvml-replay`), serves Prometheus `/metrics`
on `--port`, and patches the node annotation `tessera.io/gpus` when inventory or health change
(only where a cluster is reachable: in-cluster, or with `--kubeconfig`).
"""

from __future__ import annotations

import json
import logging
import signal
import socket
import sys
from pathlib import Path

import typer

from cli.errors import BadInput, exits_2_on_bad_input
from scheduler.policy.rules import DEFAULT_MAX_TEMPERATURE_C
from scheduler.telemetry import annotation
from scheduler.telemetry.agent import Agent
from scheduler.telemetry.agent.backend import NvmlBackend
from scheduler.telemetry.agent.nvml_real import PynvmlBackend
from scheduler.telemetry.agent.nvml_replay import ReplayBackend
from scheduler.telemetry.agent.publisher import AnnotationPublisher, KubeNodePatcher

log = logging.getLogger("tessera.agent")


def _publisher(
    node: str, mode: str, kubeconfig: Path | None, interval: float, hot_c: float
) -> AnnotationPublisher | None:
    if mode == "off":
        return None
    try:
        from kubernetes.config import ConfigException

        patcher = KubeNodePatcher(
            in_cluster=kubeconfig is None,
            kubeconfig=None if kubeconfig is None else str(kubeconfig),
        )
    except (ConfigException, OSError) as exc:
        if mode == "on":
            raise BadInput(f"--publish on: no cluster to publish to ({exc})") from None
        log.warning("annotation publishing off: no cluster config (%s)", exc)
        return None
    return AnnotationPublisher(node, patcher, min_interval_s=max(interval, 30.0), hot_c=hot_c)


@exits_2_on_bad_input
def agent(
    node_name: str = typer.Option(
        "", "--node-name", envvar="NODE_NAME", help="Node name (default: $NODE_NAME or hostname)."
    ),
    nvml_replay: Path | None = typer.Option(
        None, "--nvml-replay", help="Replay a recorded NVML capture (folder or snapshot JSON)."
    ),
    once: bool = typer.Option(False, "--once", help="Sample once, print the annotation JSON."),
    port: int = typer.Option(9402, "--port", help="Port for /metrics (0 = any free port)."),
    host: str = typer.Option("0.0.0.0", "--host", help="Address for /metrics."),
    interval: float = typer.Option(5.0, "--interval", help="Seconds between NVML sweeps."),
    publish: str = typer.Option(
        "auto",
        "--publish",
        help="Patch the node annotation: auto (when a cluster is reachable), on, off.",
    ),
    kubeconfig: Path | None = typer.Option(None, "--kubeconfig", help="Kubeconfig file."),
    replay_offset: float = typer.Option(0.0, "--replay-offset", help="Start S seconds into it."),
    replay_hold: bool = typer.Option(False, "--replay-hold", help="Freeze the replay there."),
    inject_xid: list[int] = typer.Option(
        [], "--inject-xid", help="Fault drill: report this XID on GPU 0 (replay only)."
    ),
    max_temperature: float = typer.Option(
        DEFAULT_MAX_TEMPERATURE_C,
        "--max-temperature",
        help="Flag a GPU over_temperature at or above this (C).",
    ),
) -> None:
    """Run the GPU node agent."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if not 0 <= port <= 65535:
        raise BadInput(f"--port {port}: must be 0..65535")
    if not interval > 0:
        raise BadInput(f"--interval {interval}: must be > 0")
    if not 0 < max_temperature < 200:
        raise BadInput(f"--max-temperature {max_temperature}: must be in (0, 200) C")
    if publish not in ("auto", "on", "off"):
        raise BadInput(f"--publish {publish!r}: must be auto, on or off")
    if nvml_replay is not None and not nvml_replay.exists():
        raise BadInput(f"--nvml-replay {nvml_replay}: no such file or folder")
    if inject_xid and nvml_replay is None:
        raise BadInput("--inject-xid needs --nvml-replay (the real backend reads real XIDs)")
    node = node_name or socket.gethostname()
    backend: NvmlBackend = (
        PynvmlBackend()
        if nvml_replay is None
        else ReplayBackend(
            nvml_replay, offset_s=replay_offset, hold=replay_hold, inject_xids=tuple(inject_xid)
        )
    )
    if once:
        run = Agent(node, backend, interval_s=interval)
        sample = run.tick()
        backend.close()
        if sample is None:
            typer.echo(f"error: no GPU telemetry on node {node} (see the log line above)", err=True)
            raise typer.Exit(code=1)
        typer.echo(json.dumps(annotation.to_document(sample, max_temperature), indent=2))
        return
    run = Agent(
        node,
        backend,
        interval_s=interval,
        publisher=_publisher(node, publish, kubeconfig, interval, max_temperature),
    )
    server = run.serve(port, host)
    log.info("serving /metrics on %s:%d for node %s", host, server.server_port, node)
    sys.stdout.flush()
    signal.signal(signal.SIGTERM, lambda *_: run.stop())
    try:
        run.run_forever()
    except KeyboardInterrupt:
        run.stop()
    server.shutdown()


def register(app: typer.Typer) -> None:
    app.command("agent")(agent)
