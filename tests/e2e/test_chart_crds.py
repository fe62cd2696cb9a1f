"""The chart's CRD-backed objects against the projects' own CRDs on a real kube-apiserver: the
Prometheus Operator's ServiceMonitor, PodMonitor and PrometheusRule, and cert-manager's
Certificate, validated by the CRDs' published OpenAPI schemas (strict dry-run), then installed
with `helm install`. The CRDs come unmodified from the Go module proxy (tests/e2e/crds/fetch.sh,
hashes pinned); no operator runs, so nothing acts on the objects."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from devcluster.cluster import DevCluster
from tests.e2e import chartrun
from tests.manifests.chart import documents, template

pytestmark = pytest.mark.e2e

WITH_CRDS = [
    "--set", "monitoring.serviceMonitor.enabled=true",
    "--set", "monitoring.podMonitor.enabled=true",
    "--set", "monitoring.prometheusRule.enabled=true",
    "--set", "tls.enabled=true",  # tls.source defaults to certManager: a Certificate
]  # fmt: skip
CRD_KINDS = {"ServiceMonitor", "PodMonitor", "PrometheusRule", "Certificate"}


@pytest.fixture(scope="session")
def crds() -> Path:
    try:
        return chartrun.crd_dir()
    except RuntimeError as exc:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CRDs: {exc} (CI=true: the CRD tests must run)", pytrace=False)
        pytest.skip(f"CRDs: {exc}")


def test_crd_backed_objects_validate_against_upstream_crds_and_install(
    make_cluster: Callable[..., DevCluster], helm_bin: Path, crds: Path
) -> None:
    cluster = make_cluster(extender=False, authorization_mode="RBAC")
    api = cluster.api
    names = chartrun.apply_crds(api, crds)
    assert set(names) == {
        "servicemonitors.monitoring.coreos.com", "podmonitors.monitoring.coreos.com",
        "prometheusrules.monitoring.coreos.com", "certificates.cert-manager.io",
    }  # fmt: skip
    docs = documents(template(helm_bin, *WITH_CRDS))
    assert {d["kind"] for d in docs} >= CRD_KINDS
    chartrun.dry_run(api, docs, "tessera")
    chartrun.install(helm_bin, cluster, "tessera", *WITH_CRDS)
    for doc in docs:
        if doc["kind"] in CRD_KINDS:
            got = api.request("GET", chartrun.object_path(doc))
            assert got["spec"] == doc["spec"], doc["kind"]  # stored as rendered, nothing pruned
