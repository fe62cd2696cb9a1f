"""Fixtures for the end-to-end tests: real etcd, kube-apiserver and kube-scheduler binaries.

Binaries come from `tests/e2e/cluster/build.sh` (cached per Kubernetes version outside the repo).
With CI=true a missing Go toolchain or a failed build fails the tests; elsewhere they skip with
a one-line reason.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devcluster import binaries
from devcluster.cluster import ClusterOptions, DevCluster
from devcluster.procs import LaunchError
from tests.conftest import REPO
from tests.manifests.conftest import helm_bin  # noqa: F401  (the chart tests' helm fixture)


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"e2e: {reason} (CI=true: the real-binary tests must run)", pytrace=False)
    pytest.skip(f"e2e: {reason}")


@pytest.fixture(scope="session")
def k8s_bin_dir() -> Path:
    try:
        return binaries.build()
    except LaunchError as exc:
        _unavailable(str(exc))
        raise  # unreachable: _unavailable fails or skips


def tessera_env() -> dict[str, str]:
    """Tessera runs from this checkout, installed or not."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    return env


@pytest.fixture
def make_cluster(
    k8s_bin_dir: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., DevCluster]]:
    """Start clusters with `make_cluster(**options)`; all are closed at test end, logs kept
    (and their folder printed) when the test failed."""
    started: list[DevCluster] = []

    def make(**options: object) -> DevCluster:
        opts = ClusterOptions(bin_dir=k8s_bin_dir, tessera_env=tessera_env(), **options)  # type: ignore[arg-type]
        cluster = DevCluster(opts)
        started.append(cluster)
        cluster.start()
        return cluster

    yield make
    failed = bool(getattr(request.node, "rep_call", None) and request.node.rep_call.failed)
    for cluster in started:
        cluster.close(keep=failed or _component_died(cluster))


def _component_died(cluster: DevCluster) -> bool:
    """A component exited on its own (ones stopped on purpose are no longer listed)."""
    return any(not p.running for p in cluster.procs.values())


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    rep = yield
    setattr(item, f"rep_{rep.when}", rep)
    return rep


@pytest.fixture
def tessera_cluster(make_cluster: Callable[..., DevCluster]) -> Callable[..., DevCluster]:
    """`make_cluster` for scenarios that need Tessera itself (`tessera serve`)."""
    import importlib.util

    if importlib.util.find_spec("cli.serve") is None:
        _unavailable("`tessera serve` (cli/serve.py) is not in this checkout")
    return make_cluster


@pytest.fixture(scope="session")
def twin_bins(k8s_bin_dir: Path) -> tuple[Path, Path]:
    """(Volcano directory, kwok binary) from tests/e2e/cluster/build-twin.sh (cached)."""
    try:
        volcano, kwok = binaries.build_twin()
    except LaunchError as exc:
        _unavailable(str(exc))
        raise
    return volcano, kwok / "kwok"
