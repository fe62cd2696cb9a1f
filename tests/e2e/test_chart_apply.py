"""The Helm chart against a real kube-apiserver with RBAC authorization.

- every object of two renderings (the default second scheduler, and extenderOnly in a namespace
  of its own) passes a strict server-side dry-run, then `helm install` applies them for real;
- SubjectAccessReviews show what each ServiceAccount may and may not do (the matrix is printed);
- the chart's KubeSchedulerConfiguration runs as a kube-scheduler process under the chart's own
  ServiceAccount, beside `tessera serve` under the same account (the sidecar), and schedules a
  pod with `schedulerName: tessera-scheduler` onto a GPU node with Tessera's placement; the node
  agent under its account publishes its node's GPUs;
- the optional MutatingAdmissionPolicy sends GPU pods in labelled namespaces to that scheduler;
- the scheduler's ClusterRole is the built-in system:kube-scheduler minus the default scheduler's
  Lease (so a Kubernetes upgrade that grows the built-in role fails here, naming the rule).

CRD-backed objects (ServiceMonitor, PodMonitor, PrometheusRule, cert-manager Certificate) are
rendered off here; tests/e2e/test_chart_crds.py checks them against the upstream CRDs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from devcluster.cluster import DevCluster
from devcluster.kubeapi import wait_for
from devcluster.nodes import GpuSpec, NodeSpec, node_object
from tests.conftest import SHARED
from tests.e2e import chartrun
from tests.e2e.helpers import placement, wait_bound
from tests.manifests.chart import documents, template

pytestmark = pytest.mark.e2e

NS = "tessera-system"
H100_UUID = "GPU-3d950e61-fc9d-ffc5-3c1e-8b3db20ef80a"  # the recorded H100 (shared/fixtures)
SELF_MANAGED = ["--set", "mode=extenderOnly", "--set", "namespace.name=tessera-selfmanaged"]
# The default install plus the optional MutatingAdmissionPolicy for GPU namespaces.
DEFAULT = ["--set", "gpuNamespaces.enabled=true"]


def _sa(name: str, ns: str = NS) -> str:
    return f"system:serviceaccount:{ns}:{name}"


SCHED, AGENT = _sa("tessera-scheduler"), _sa("tessera-agent")
EXTENDER = _sa("tessera-selfmanaged-extender", "tessera-selfmanaged")

# (who, verb, resource[/subresource], namespace, name, allowed). The scheduler pod's account runs
# kube-scheduler and its Tessera sidecar (a pod has one account); the extenderOnly account is
# Tessera alone.
MATRIX: list[tuple[str, str, str, str, str, bool]] = [
    # Tessera: watch cache, Binding, placement annotation, PodGroups.
    (EXTENDER, "list", "nodes", "", "", True),
    (EXTENDER, "watch", "pods", "", "", True),
    (EXTENDER, "create", "pods/binding", "team-a", "p", True),
    (EXTENDER, "patch", "pods", "team-a", "p", True),
    (EXTENDER, "list", "podgroups.scheduling.x-k8s.io", "", "", True),
    (EXTENDER, "watch", "podgroups.scheduling.volcano.sh", "", "", False),  # not watched
    (EXTENDER, "patch", "nodes", "", "gpu-0", False),
    (EXTENDER, "update", "nodes", "", "gpu-0", False),
    (EXTENDER, "get", "secrets", NS, "", False),
    (EXTENDER, "list", "secrets", "", "", False),
    (EXTENDER, "delete", "pods", "team-a", "p", False),
    (EXTENDER, "create", "pods", "team-a", "", False),
    (EXTENDER, "update", "leases.coordination.k8s.io", "kube-system", "kube-scheduler", False),
    (EXTENDER, "list", "configmaps", "", "", False),
    # The node agent: its node annotation, nothing else.
    (AGENT, "get", "nodes", "", "gpu-0", True),
    (AGENT, "patch", "nodes", "", "gpu-0", True),
    (AGENT, "delete", "nodes", "", "gpu-0", False),
    (AGENT, "get", "secrets", NS, "", False),
    (AGENT, "list", "secrets", "", "", False),
    (AGENT, "patch", "pods", "team-a", "p", False),
    (AGENT, "list", "pods", "", "", False),
    (AGENT, "create", "pods/binding", "team-a", "p", False),
    # The second scheduler (kube-scheduler's built-in roles + Tessera's role + its own Lease).
    (SCHED, "watch", "pods", "", "", True),
    (SCHED, "create", "pods/binding", "team-a", "p", True),
    (SCHED, "patch", "pods", "team-a", "p", True),
    (SCHED, "delete", "pods", "team-a", "p", True),  # preemption evicts victims
    (SCHED, "update", "leases.coordination.k8s.io", NS, "tessera-scheduler", True),
    (SCHED, "update", "leases.coordination.k8s.io", "kube-system", "kube-scheduler", False),
    (SCHED, "create", "leasecandidates.coordination.k8s.io", "kube-system", "", False),
    (SCHED, "patch", "nodes", "", "gpu-0", False),
    (SCHED, "get", "secrets", NS, "", False),
    (SCHED, "list", "secrets", "", "", False),
]


def _review(api: Any, who: str, verb: str, what: str, ns: str, name: str) -> bool:
    resource, _, sub = what.partition("/")
    resource, _, group = resource.partition(".")
    ns_of_sa = who.split(":")[2]
    attrs = {"verb": verb, "resource": resource, "group": group, "subresource": sub}
    attrs.update({k: v for k, v in (("namespace", ns), ("name", name)) if v})
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": who,
            "groups": [
                "system:serviceaccounts",
                f"system:serviceaccounts:{ns_of_sa}",
                "system:authenticated",
            ],
            "resourceAttributes": attrs,
        },
    }
    out = api.request("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", review)
    return bool(out["status"].get("allowed"))


@pytest.fixture
def rbac_cluster(make_cluster: Callable[..., DevCluster]) -> DevCluster:
    return make_cluster(extender=False, authorization_mode="RBAC")


def test_chart_dry_runs_installs_and_its_rbac_matrix_holds(
    rbac_cluster: DevCluster, helm_bin: Path
) -> None:
    api = rbac_cluster.api
    checked = 0
    for release, flags in (("tessera", DEFAULT), ("tessera-selfmanaged", SELF_MANAGED)):
        checked += chartrun.dry_run(
            api, documents(template(helm_bin, *flags, release=release)), release
        )
    assert checked >= 40, checked
    chartrun.install(helm_bin, rbac_cluster, "tessera", *DEFAULT)
    chartrun.install(helm_bin, rbac_cluster, "tessera-selfmanaged", *SELF_MANAGED)
    # Applied for real: every object of both renderings now exists.
    for doc in documents(template(helm_bin, *DEFAULT)) + documents(
        template(helm_bin, *SELF_MANAGED, release="tessera-selfmanaged")
    ):
        assert api.request("GET", chartrun.object_path(doc)), doc["metadata"]["name"]

    rows = []
    for who, verb, what, ns, name, expected in MATRIX:
        got = _review(api, who, verb, what, ns, name)
        rows.append((who.rsplit(":", 1)[1], verb, what, f"{ns}/{name}".strip("/"), expected, got))
    print("\nRBAC matrix (SubjectAccessReview against the real apiserver):")
    print(f"{'account':30} {'verb':7} {'resource':36} {'where':34} {'want':6} got")
    for acct, verb, what, where, want, got in rows:
        mark = "" if want == got else "  <-- MISMATCH"
        print(f"{acct:30} {verb:7} {what:36} {where:34} {str(want):6} {got}{mark}")
    assert [r for r in rows if r[4] != r[5]] == []


def test_chart_scheduler_config_schedules_a_gpu_pod_under_the_chart_accounts(
    rbac_cluster: DevCluster, helm_bin: Path
) -> None:
    api = rbac_cluster.api
    port = chartrun.free_port()
    flags = ["--set", f"extender.port={port}"]
    chartrun.install(helm_bin, rbac_cluster, "tessera", *flags)
    docs = documents(template(helm_bin, *flags))
    sidecar = chartrun.start_sidecar(rbac_cluster, docs, port)
    chartrun.start_chart_scheduler(rbac_cluster, docs)
    chartrun.add_gpu_node(api, "gpu-0")
    api.create_pod(chartrun.gpu_pod("train-0", gpus=2))
    assert wait_bound(api, ["train-0"], timeout_s=120) == {"train-0": "gpu-0"}
    got = placement(api, "train-0")
    assert got.node == "gpu-0" and len(got.gpus) == 2
    # Tessera answered the chart scheduler's calls (its own metrics port counts them).
    assert chartrun.verb_count(sidecar, "bind") >= 1
    # The node agent under its account publishes its node's GPUs (replaying a recorded H100).
    api.create_node(node_object(NodeSpec("gpu-1", gpus=[GpuSpec()], annotate=False)))
    chartrun.start_agent(rbac_cluster, "gpu-1", SHARED / "fixtures" / "nvml" / "h100-80gb-hbm3")

    def published() -> str | None:
        ann = api.request("GET", "/api/v1/nodes/gpu-1")["metadata"].get("annotations") or {}
        return ann.get("tessera.io/gpus")

    gpus = json.loads(wait_for("the agent's tessera.io/gpus on gpu-1", published, 90))
    assert gpus["version"] == 1 and [g["uuid"] for g in gpus["gpus"]] == [H100_UUID]


def _rule_set(rules: list[dict[str, Any]]) -> set[tuple[str, str, str, str]]:
    return {
        (g, r, v, n)
        for rule in rules
        for g in rule.get("apiGroups", [""])
        for r in rule["resources"]
        for v in rule["verbs"]
        for n in rule.get("resourceNames", ["*"])
    }


def test_scheduler_role_is_the_builtin_one_minus_the_default_schedulers_lease(
    rbac_cluster: DevCluster, helm_bin: Path
) -> None:
    # When Kubernetes grows system:kube-scheduler, this fails and names what to add.
    api = rbac_cluster.api
    builtin = api.request(
        "GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/system:kube-scheduler"
    )
    ours = [
        d
        for d in documents(template(helm_bin))
        if d["kind"] == "ClusterRole" and d["metadata"]["name"] == "tessera-kube-scheduler"
    ][0]
    # Left out: the default scheduler's Lease and LeaseCandidates; creating Leases anywhere
    # (the chart's Role allows it in its own namespace only).
    dropped = {
        t
        for t in _rule_set(builtin["rules"])
        if t[1] == "leasecandidates" or t[3] == "kube-scheduler" or t[1:3] == ("leases", "create")
    }
    assert len(dropped) >= 3, "system:kube-scheduler no longer grants what this role leaves out"
    assert _rule_set(ours["rules"]) == _rule_set(builtin["rules"]) - dropped


def test_gpu_namespace_policy_sends_gpu_pods_to_the_tessera_scheduler(
    rbac_cluster: DevCluster, helm_bin: Path
) -> None:
    api = rbac_cluster.api
    chartrun.install(helm_bin, rbac_cluster, "tessera", *DEFAULT)
    labelled = {"tessera.io/gpu-scheduling": "enabled"}
    for ns, labels in (("team-gpu", labelled), ("team-other", {})):
        api.request("POST", "/api/v1/namespaces", {"metadata": {"name": ns, "labels": labels}})
    gpu = {"nvidia.com/gpu": "1"}
    # The policy is picked up asynchronously after install: retry the first pod until it is.
    name = chartrun.wait_mutated(api, "team-gpu", gpu)
    assert api.pod(name, "team-gpu")["spec"]["schedulerName"] == "tessera-scheduler"
    cases = [
        ("team-gpu", {"cpu": "1"}, "default-scheduler", "cpu-only"),  # no GPU asked
        ("team-other", gpu, "default-scheduler", "gpu-elsewhere"),  # namespace not labelled
    ]
    for ns, res, want, pod in cases:
        api.create_pod(chartrun.plain_pod(pod, res), ns)
        assert api.pod(pod, ns)["spec"]["schedulerName"] == want, pod
    # A pod naming its own scheduler keeps it.
    api.create_pod(chartrun.plain_pod("volcano-job", gpu, scheduler="volcano"), "team-gpu")
    assert api.pod("volcano-job", "team-gpu")["spec"]["schedulerName"] == "volcano"


def test_tls_from_a_provided_secret_schedules_over_https(
    rbac_cluster: DevCluster, helm_bin: Path
) -> None:
    api = rbac_cluster.api
    port = chartrun.free_port()
    flags = ["--set", f"extender.port={port}", "--set", "tls.enabled=true",
             "--set", "tls.source=secret"]  # fmt: skip
    chartrun.install(helm_bin, rbac_cluster, "tessera", *flags)
    chartrun.provide_tls_secret(api, rbac_cluster.work / "ca", "tessera-extender-tls", NS)
    docs = documents(template(helm_bin, *flags))
    # Both containers mount the same Secret; here one folder holds its keys.
    volume = chartrun.secret_volume(api, "tessera-extender-tls", NS, rbac_cluster.work / "tls")
    mounts = {"/etc/tessera/tls": volume, "/etc/tessera-scheduler/tls": volume}
    sidecar = chartrun.start_sidecar(rbac_cluster, docs, port, mounts=mounts)
    config = chartrun.start_chart_scheduler(rbac_cluster, docs, mounts=mounts)
    assert f'urlPrefix: "https://127.0.0.1:{port}"' in config and "enableHTTPS: true" in config
    chartrun.add_gpu_node(api, "gpu-0")
    api.create_pod(chartrun.gpu_pod("secure-0", gpus=1))
    assert wait_bound(api, ["secure-0"], timeout_s=120) == {"secure-0": "gpu-0"}
    assert chartrun.verb_count(sidecar, "bind") >= 1  # kube-scheduler reached Tessera over TLS
    # Plain HTTP is not served on the verbs port any more.
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
