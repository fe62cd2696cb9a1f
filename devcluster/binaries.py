"""Where the kube-apiserver, kube-scheduler and etcd binaries come from: the Go module in
`tests/e2e/cluster/` of a checkout, built by its `build.sh` into a per-version cache."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from devcluster.procs import LaunchError

BINARIES = ("etcd", "kube-apiserver", "kube-scheduler")
BUILD_SH = Path(__file__).resolve().parents[1] / "tests" / "e2e" / "cluster" / "build.sh"


def check_bin_dir(bin_dir: Path) -> Path:
    missing = [b for b in BINARIES if not (bin_dir / b).is_file()]
    if missing:
        raise LaunchError(f"--bin-dir {bin_dir}: missing {', '.join(missing)}")
    return bin_dir


def build(script: Path = BUILD_SH, stream: bool = False) -> Path:
    """Run `build.sh` (a no-op when cached) and return the binary directory it printed.

    `stream=True` lets its progress reach the terminal (the first build takes minutes)."""
    if not script.is_file():
        raise LaunchError(
            f"{script} not found: run from a Tessera checkout or pass --bin-dir with "
            + ", ".join(BINARIES)
        )
    if shutil.which("go") is None:
        raise LaunchError("no Go toolchain on PATH: cannot build the Kubernetes binaries")
    run = subprocess.run(
        ["bash", str(script)], stdout=subprocess.PIPE, stderr=None if stream else subprocess.PIPE,
        text=True,
    )  # fmt: skip
    if run.returncode != 0:
        last = ((run.stderr or "").strip().splitlines() or ["see the output above"])[-1]
        raise LaunchError(f"building the Kubernetes binaries failed: {last}")
    return check_bin_dir(Path(run.stdout.strip().splitlines()[-1]))
