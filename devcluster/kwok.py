"""KWOK as the node agent of the dev-cluster's GPU nodes: keeps them Ready, runs bound pods.

The Stages (`kwok-stages.yaml`) make a bound pod Running at once and Succeeded after the
duration in its `twin.tessera.io/duration` annotation (no jitter): time compression is the
caller's job, it writes durations already divided by its speedup.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from devcluster.cluster import DevCluster

DURATION_ANNOTATION = "twin.tessera.io/duration"
STAGES_NAME = "kwok-stages.yaml"


def duration_value(seconds: float) -> str:
    """The annotation value KWOK parses (`time.ParseDuration`), to the millisecond."""
    if seconds < 0:
        raise ValueError(f"duration {seconds}: must be >= 0")
    return f"{round(seconds * 1000)}ms"


def stages_text() -> str:
    return resources.files(__package__).joinpath(STAGES_NAME).read_text(encoding="utf-8")


def start_kwok(cluster: DevCluster, kwok_bin: Path) -> None:
    """Start `kwok` managing every node of `cluster` (logs to <work>/logs/kwok.log)."""
    stages = cluster.work / "kwok-stages.yaml"
    stages.write_text(stages_text())
    argv = [
        str(kwok_bin), f"--kubeconfig={cluster.kubeconfig}", f"--config={stages}",
        "--manage-all-nodes=true", "--node-lease-duration-seconds=0", "--server-address=",
    ]  # fmt: skip
    proc = cluster.launch("kwok", argv)
    # Ready when it has watched the cluster: its log says so; a crash fails wait_ready at once.
    proc.wait_ready(lambda: "Watch" in _read(proc.log) or "watch" in _read(proc.log), 60.0)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
