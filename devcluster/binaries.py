"""Where the kube-apiserver, kube-scheduler and etcd binaries come from: the Go module in
`tests/e2e/cluster/` of a checkout, built by its `build.sh` into a per-version cache."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from devcluster.procs import LaunchError

BINARIES = ("etcd", "kube-apiserver", "kube-scheduler")
BUILD_SH = Path(__file__).resolve().parents[1] / "tests" / "e2e" / "cluster" / "build.sh"
BUILD_TWIN_SH = BUILD_SH.with_name("build-twin.sh")


def check_bin_dir(bin_dir: Path) -> Path:
    missing = [b for b in BINARIES if not (bin_dir / b).is_file()]
    if missing:
        raise LaunchError(f"--bin-dir {bin_dir}: missing {', '.join(missing)}")
    return bin_dir


def build_twin(script: Path = BUILD_TWIN_SH, stream: bool = False) -> tuple[Path, Path]:
    """Run `build-twin.sh` (a no-op when cached): (Volcano directory, KWOK directory)."""
    lines = _run_build(script, stream, "the Volcano and KWOK binaries").splitlines()
    if len(lines) < 2:
        raise LaunchError(f"{script} printed no binary directories")
    return Path(lines[-2]), Path(lines[-1])


def build(script: Path = BUILD_SH, stream: bool = False) -> Path:
    """Run `build.sh` (a no-op when cached) and return the binary directory it printed.

    `stream=True` lets its progress reach the terminal (the first build takes minutes)."""
    out = _run_build(script, stream, "the Kubernetes binaries")
    return check_bin_dir(Path(out.splitlines()[-1]))


def _run_build(script: Path, stream: bool, what: str) -> str:
    if not script.is_file():
        raise LaunchError(
            f"{script} not found: run from a Tessera checkout or pass --bin-dir with "
            + ", ".join(BINARIES)
        )
    if shutil.which("go") is None:
        raise LaunchError(f"no Go toolchain on PATH: cannot build {what}")
    run = subprocess.run(
        ["bash", str(script)], stdout=subprocess.PIPE, stderr=None if stream else subprocess.PIPE,
        text=True,
    )  # fmt: skip
    if run.returncode != 0:
        last = ((run.stderr or "").strip().splitlines() or ["see the output above"])[-1]
        raise LaunchError(f"building {what} failed: {last}")
    return run.stdout.strip()
