"""`tessera dev-cluster`: a local etcd + kube-apiserver + Tessera + kube-scheduler to try Tessera.

`up` starts everything on loopback ports with a few kubelet-less H100 nodes and waits for
Ctrl-C; `scheduler-config` prints the KubeSchedulerConfiguration (the template manifests/ uses).
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import typer

from cli.errors import BadInput, exits_2_on_bad_input

# The launcher lives outside the product package (`devcluster/`, a development and test tool):
# it is imported only when a dev-cluster command runs, so `tessera serve` never loads it.

group = typer.Typer(help="A local control plane with Tessera as kube-scheduler's extender.")


@group.command("up")
@exits_2_on_bad_input
def up(
    bin_dir: Path | None = typer.Option(
        None,
        help="Directory with etcd, kube-apiserver, "
        "kube-scheduler (default: build from this checkout).",
    ),
    nodes: int = typer.Option(4, help="GPU nodes to create (8 H100s each; node 0 has MIG on)."),
    no_extender: bool = typer.Option(False, "--no-extender", help="Plain kube-scheduler only."),
    work_dir: Path | None = typer.Option(None, help="Keep state and logs here."),
    scheduler: str = typer.Option("tessera", "--scheduler", help="tessera (kube-scheduler + "
                                  "the extender), default (kube-scheduler alone) or volcano "
                                  "(the real vc-scheduler; pods use schedulerName volcano)"),
    kwok: bool = typer.Option(False, "--kwok/--no-kwok", help="KWOK runs bound pods (Running, "
                              "then Succeeded after the twin.tessera.io/duration annotation)"),
) -> None:
    """Start the cluster, print how to reach it, and stop everything on Ctrl-C."""
    from devcluster import binaries
    from devcluster.cluster import ClusterOptions, DevCluster
    from devcluster.nodes import GpuSpec, NodeSpec, node_object
    from devcluster.procs import LaunchError

    if nodes < 0:
        raise BadInput(f"--nodes {nodes}: must be >= 0")
    if scheduler not in ("tessera", "default", "volcano"):
        raise BadInput(f"--scheduler {scheduler!r}: must be tessera, default or volcano")
    try:
        bins = binaries.check_bin_dir(bin_dir) if bin_dir else binaries.build(stream=True)
        volcano_dir = kwok_bin = None
        if kwok or scheduler == "volcano":
            volcano_dir, kwok_dir = binaries.build_twin(stream=True)
            kwok_bin = kwok_dir / "kwok" if kwok else None
    except LaunchError as exc:
        raise BadInput(str(exc)) from None
    cluster = DevCluster(ClusterOptions(
        bin_dir=bins, work_dir=work_dir, extender=not no_extender, scheduler=scheduler,
        volcano_dir=volcano_dir if scheduler == "volcano" else None, kwok_bin=kwok_bin,
    ))  # fmt: skip
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        cluster.start()
        for i in range(nodes):
            mig = [GpuSpec(mig=True)] * 8 if i == 0 else [GpuSpec()] * 8
            cluster.api.create_node(node_object(NodeSpec(f"gpu-node-{i}", gpus=mig)))
        typer.echo(f"kube-apiserver  {cluster.server}")
        if scheduler == "tessera" and not no_extender:
            typer.echo(f"tessera         {cluster.tessera_url}")
        typer.echo(f"kubeconfig      {cluster.kubeconfig}")
        typer.echo(f"logs            {cluster.logs}")
        typer.echo(f"scheduler       {scheduler} (pods: schedulerName {cluster.scheduler_name})")
        # The Python client is installed with Tessera; kubectl may not be on this machine.
        typer.echo("try (Ctrl-C stops):\n  python3 -c \"from kubernetes import client, config; "
                   f"config.load_kube_config('{cluster.kubeconfig}'); "
                   "print([n.metadata.name for n in client.CoreV1Api().list_node().items])\"")
        stop.wait()
    except LaunchError as exc:
        cluster.close(keep=True)
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    except KeyboardInterrupt:
        pass
    cluster.close(keep=work_dir is not None)


@group.command("scheduler-config")
@exits_2_on_bad_input
def scheduler_config(
    url: str = typer.Option(..., help="Tessera's base URL, e.g. http://127.0.0.1:8888"),
    kubeconfig: str = typer.Option("", help="Kubeconfig for kube-scheduler ('' = in-cluster)."),
    node_cache_capable: bool = typer.Option(True, "--node-cache/--no-node-cache"),
    ignorable: bool = typer.Option(
        False, help="Schedule GPU pods without Tessera when it is down."
    ),
    http_timeout: str = typer.Option("5s", help="Per-call timeout, e.g. 5s or 500ms."),
    scheduler_name: str = typer.Option("default-scheduler"),
) -> None:
    """Print the KubeSchedulerConfiguration registering Tessera (rendered from the template)."""
    from devcluster import schedconfig

    values = schedconfig.SchedulerConfigValues(
        url_prefix=url, kubeconfig=kubeconfig, node_cache_capable=node_cache_capable,
        ignorable=ignorable, http_timeout=http_timeout, scheduler_name=scheduler_name,
    )  # fmt: skip
    typer.echo(schedconfig.render(values), nl=False)


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="dev-cluster")
