"""manifests/: the generated scheduler manifest matches the template; every file is valid YAML
with the objects an operator expects."""

from __future__ import annotations

from pathlib import Path

import yaml

from scheduler.devcluster import schedconfig
from scheduler.devcluster.manifest import scheduler_manifest


def _docs(repo: Path, name: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((repo / "manifests" / name).read_text()) if d]


def test_committed_scheduler_manifest_is_the_rendered_template(repo_dir):
    committed = (repo_dir / "manifests" / "scheduler.yaml").read_text()
    assert committed == scheduler_manifest(), (
        "manifests/scheduler.yaml drifted: run python -m scheduler.devcluster.manifest"
    )


def test_scheduler_configmap_holds_the_in_cluster_rendering(repo_dir):
    docs = {(d["kind"], d["metadata"]["name"]): d for d in _docs(repo_dir, "scheduler.yaml")}
    cm = docs[("ConfigMap", "tessera-scheduler-config")]
    assert cm["data"]["config.yaml"] == schedconfig.render(schedconfig.IN_CLUSTER)
    config = yaml.safe_load(cm["data"]["config.yaml"])
    assert config["profiles"] == [{"schedulerName": "tessera-scheduler"}]
    assert config["leaderElection"]["resourceName"] == "tessera-scheduler"
    # The extender URL names the Service in extender.yaml, on its port.
    svc = {(d["kind"], d["metadata"]["name"]): d for d in _docs(repo_dir, "extender.yaml")}[
        ("Service", "tessera")
    ]
    host = f"http://{svc['metadata']['name']}.{svc['metadata']['namespace']}.svc"
    assert config["extenders"][0]["urlPrefix"] == f"{host}:{svc['spec']['ports'][0]['port']}"
    deploy = docs[("Deployment", "tessera-scheduler")]
    mount = deploy["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][0]["mountPath"]
    assert (
        f"--config={mount}/config.yaml"
        in deploy["spec"]["template"]["spec"]["containers"][0]["command"]
    )


def test_every_manifest_object_is_namespaced_in_tessera_system_or_cluster_scoped(repo_dir):
    cluster_scoped = {"Namespace", "ClusterRole", "ClusterRoleBinding"}
    kinds = set()
    for path in sorted((repo_dir / "manifests").glob("*.yaml")):
        if path.name == "prometheus-scrape.yaml":
            continue  # a scrape_configs fragment, not Kubernetes objects
        for doc in _docs(repo_dir, path.name):
            kinds.add(doc["kind"])
            ns = doc["metadata"].get("namespace")
            if doc["kind"] in cluster_scoped:
                assert ns is None, f"{path.name}: {doc['kind']} is cluster-scoped"
            else:
                assert ns in ("tessera-system", "kube-system"), f"{path.name}: {doc['kind']}"
    assert {"Deployment", "Service", "DaemonSet", "ServiceMonitor", "ConfigMap"} <= kinds


def test_prometheus_scrape_fragment_keeps_the_extender_and_agent_ports(repo_dir):
    jobs = {
        j["job_name"]: j
        for j in yaml.safe_load((repo_dir / "manifests" / "prometheus-scrape.yaml").read_text())
    }
    assert set(jobs) == {"tessera-extender", "tessera-agent"}
    agent = {d["kind"]: d for d in _docs(repo_dir, "node-agent.yaml")}["DaemonSet"]
    port = agent["spec"]["template"]["spec"]["containers"][0]["ports"][0]["name"]
    assert jobs["tessera-agent"]["relabel_configs"][0]["regex"] == f"agent;{port}"
