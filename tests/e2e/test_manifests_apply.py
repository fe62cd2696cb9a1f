"""manifests/ against a real kube-apiserver: every built-in object passes a strict server-side
dry-run create (schema, unknown fields, references to built-in priority classes and roles)."""

from __future__ import annotations

import pytest
import yaml

pytestmark = pytest.mark.e2e

# Where each kind is created (core group: /api/v1; others: /apis/<group>/<version>).
PLURAL = {
    "Namespace": "namespaces", "ServiceAccount": "serviceaccounts", "Service": "services",
    "ConfigMap": "configmaps", "Deployment": "deployments", "DaemonSet": "daemonsets",
    "ClusterRole": "clusterroles", "ClusterRoleBinding": "clusterrolebindings",
    "Role": "roles", "RoleBinding": "rolebindings", "NetworkPolicy": "networkpolicies",
    "PodDisruptionBudget": "poddisruptionbudgets",
}  # fmt: skip
# monitoring.coreos.com: not in a bare apiserver
NEEDS_CRD = {"ServiceMonitor", "PodMonitor", "PrometheusRule"}


def _path(doc: dict) -> str:
    group_version = doc["apiVersion"]
    base = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
    ns = doc["metadata"].get("namespace")
    scope = f"/namespaces/{ns}" if ns else ""
    return f"{base}{scope}/{PLURAL[doc['kind']]}"


def test_manifests_pass_strict_server_side_dry_run(make_cluster, repo_dir):
    api = make_cluster(extender=False).api
    docs = [
        (path.name, doc)
        for path in sorted((repo_dir / "manifests").glob("*.yaml"))
        if path.name != "prometheus-scrape.yaml"  # Prometheus configuration, not objects
        for doc in yaml.safe_load_all(path.read_text())
        if doc and doc["kind"] not in NEEDS_CRD
    ]
    # Namespaces for real (a dry-run namespace cannot hold the dry-run objects), then the rest.
    docs.sort(key=lambda item: item[1]["kind"] != "Namespace")
    checked = []
    made: set[str] = set()
    for name, doc in docs:
        if doc["kind"] == "Namespace" and doc["metadata"]["name"] in made:
            continue  # every rendering carries the namespace; create it once
        made.add(doc["metadata"]["name"])
        dry = {} if doc["kind"] == "Namespace" else {"dryRun": "All"}
        # Raises KubeError with the apiserver's message on any invalid or unknown field.
        api.request("POST", _path(doc), doc, fieldValidation="Strict", **dry)
        checked.append(f"{name}:{doc['kind']}/{doc['metadata']['name']}")
    assert len(checked) >= 15, checked
