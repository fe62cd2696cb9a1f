"""Steps for running the Helm chart on the e2e control plane: strict dry-runs, `helm install`,
ServiceAccount tokens, and the chart's scheduler pod played by two local processes (the
kube-scheduler with the chart's KubeSchedulerConfiguration, and `tessera serve` as its sidecar),
each authenticated as the chart's ServiceAccount rather than as a cluster admin."""

from __future__ import annotations

import base64
import copy
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import yaml

from devcluster.cluster import DevCluster
from devcluster.kubeapi import KubeApi
from devcluster.nodes import NodeSpec, node_object, pod_object
from devcluster.procs import LaunchError, free_port
from tests.manifests.chart import CHART, helm, scheduler_config

__all__ = ["free_port"]

PLURAL = {
    "Namespace": "namespaces", "ServiceAccount": "serviceaccounts", "Service": "services",
    "ConfigMap": "configmaps", "Deployment": "deployments", "DaemonSet": "daemonsets",
    "ClusterRole": "clusterroles", "ClusterRoleBinding": "clusterrolebindings",
    "Role": "roles", "RoleBinding": "rolebindings", "NetworkPolicy": "networkpolicies",
    "PodDisruptionBudget": "poddisruptionbudgets",
    "MutatingAdmissionPolicy": "mutatingadmissionpolicies",
    "MutatingAdmissionPolicyBinding": "mutatingadmissionpolicybindings",
    "CustomResourceDefinition": "customresourcedefinitions",
    "ServiceMonitor": "servicemonitors", "PodMonitor": "podmonitors",
    "PrometheusRule": "prometheusrules", "Certificate": "certificates",
}  # fmt: skip


def _launch(cluster: DevCluster, name: str, argv: list[str], env: Any = None) -> Any:
    """DevCluster's process launcher (named `launch` or, before the twin work, `_launch`):
    logs to <work>/logs/<name>.log, stopped with the cluster."""
    launch = getattr(cluster, "launch", None) or cluster._launch
    return launch(name, argv, env=env) if env is not None else launch(name, argv)


def object_path(doc: dict[str, Any], named: bool = True) -> str:
    group_version = doc["apiVersion"]
    base = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
    ns = doc["metadata"].get("namespace")
    scope = f"/namespaces/{ns}" if ns else ""
    tail = f"/{doc['metadata']['name']}" if named else ""
    return f"{base}{scope}/{PLURAL[doc['kind']]}{tail}"


def dry_run(api: KubeApi, docs: list[dict[str, Any]], release: str) -> int:
    """Strict server-side dry-run create of every object (schema, unknown fields, admission).
    Namespaces are created for real first (a dry-run namespace cannot hold the rest), carrying
    Helm's ownership marks so the `helm install` that follows adopts them."""
    for doc in docs:
        if doc["kind"] == "Namespace":
            ns = copy.deepcopy(doc)
            ns["metadata"].setdefault("labels", {})["app.kubernetes.io/managed-by"] = "Helm"
            ns["metadata"]["annotations"] = {
                "meta.helm.sh/release-name": release,
                "meta.helm.sh/release-namespace": "default",
            }
            api.request("POST", object_path(ns, named=False), ns, fieldValidation="Strict")
    for doc in docs:
        if doc["kind"] != "Namespace":
            api.request(
                "POST", object_path(doc, named=False), doc, fieldValidation="Strict", dryRun="All"
            )
    return len(docs)


def install(
    helm_bin: Path, cluster: DevCluster, release: str, *flags: str, chart: Path = CHART
) -> str:
    """`helm install` (or `upgrade --install`) into the cluster; returns helm's output."""
    run = helm(
        helm_bin, "upgrade", "--install", release, str(chart), "--namespace", "default",
        "--kubeconfig", str(cluster.kubeconfig), *flags,
    )  # fmt: skip
    return run.stdout


def token_for(api: KubeApi, account: str, namespace: str = "tessera-system") -> str:
    """A bound token for the ServiceAccount (TokenRequest API), as the kubelet would mount."""
    path = f"/api/v1/namespaces/{namespace}/serviceaccounts/{account}/token"
    out = api.request("POST", path, {"spec": {"expirationSeconds": 3600}})
    return str(out["status"]["token"])


def kubeconfig_for(cluster: DevCluster, account: str) -> Path:
    token = token_for(cluster.api, account)
    path = cluster.work / f"kubeconfig-{account}"
    path.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters:\n- name: local\n  cluster:\n    server: {cluster.server}\n"
        f"    certificate-authority: {cluster.ca_file}\n"
        f"users:\n- name: {account}\n  user:\n    token: {token}\n"
        f"contexts:\n- name: local\n  context: {{cluster: local, user: {account}}}\n"
        "current-context: local\n"
    )
    return path


def _container(docs: list[dict[str, Any]], name: str) -> dict[str, Any]:
    for d in docs:
        if d["kind"] == "Deployment":
            for c in d["spec"]["template"]["spec"]["containers"]:
                if c["name"] == name:
                    return dict(c)
    raise AssertionError(f"no container {name} in the rendering")


def _remount(text: str, mounts: dict[str, Path]) -> str:
    """A container path under a mounted volume -> the local folder standing in for it."""
    for inside, outside in mounts.items():
        text = text.replace(inside + "/", f"{outside}/")
    return text


def start_sidecar(
    cluster: DevCluster,
    docs: list[dict[str, Any]],
    port: int,
    name: str = "tessera-sidecar",
    mounts: dict[str, Path] | None = None,
) -> str:
    """`tessera serve` with the sidecar's arguments from the chart, authenticated as the
    scheduler pod's ServiceAccount; in-cluster flags become the account's kubeconfig, the
    pod-wide address becomes loopback, and TLS files come from `mounts` (the Secret volume).
    Returns its metrics URL."""
    args = list(_container(docs, "extender")["args"])
    assert args[:2] == ["serve", "--in-cluster"], args
    assert args[args.index("--port") + 1] == str(port)
    metrics = free_port()
    argv = [sys.executable, "-m", "cli.main", "serve",
            "--kubeconfig", str(kubeconfig_for(cluster, "tessera-scheduler")),
            "--host", "127.0.0.1", "--port", str(port), "--metrics-port", str(metrics)]  # fmt: skip
    for flag in ("--tls-cert", "--tls-key"):
        if flag in args:
            argv += [flag, _remount(args[args.index(flag) + 1], mounts or {})]
    proc = _launch(cluster, name, argv, env=cluster.opts.tessera_env)
    # Ready as the chart's readiness probe sees it (chart 0.1.0 probed the verbs' port, later
    # charts the operations port).
    probe = _container(docs, "extender")["readinessProbe"]["httpGet"]
    scheme = probe.get("scheme", "HTTP").lower()
    url = f"{scheme}://127.0.0.1:{metrics if probe['port'] == 'metrics' else port}{probe['path']}"
    # A loaded CI box can take a while to sync and index: allow twice the launcher's default.
    try:
        proc.wait_ready(lambda: _ok(url), 2 * cluster.opts.ready_timeout_s)
    except LaunchError as exc:  # say what the operations port answered, for the failure report
        raise AssertionError(f"{exc}\n/readyz and watch metrics: {_diagnose(metrics)}") from None
    return f"http://127.0.0.1:{metrics}/metrics"


def _diagnose(metrics_port: int) -> str:
    base = f"http://127.0.0.1:{metrics_port}"
    try:
        ready = httpx.get(f"{base}/readyz", timeout=5)
        text = httpx.get(f"{base}/metrics", timeout=5).text
    except httpx.HTTPError as exc:
        return f"operations port unreachable: {exc!r}"
    watch = [line for line in text.splitlines() if "watch" in line and not line.startswith("#")]
    return f"{ready.status_code} {ready.text!r}; " + "; ".join(watch[:12])


def start_chart_scheduler(
    cluster: DevCluster,
    docs: list[dict[str, Any]],
    name: str = "chart-kube-scheduler",
    mounts: dict[str, Path] | None = None,
) -> str:
    """kube-scheduler with the chart's ConfigMap text, changed in one line only: the in-cluster
    `kubeconfig: ""` becomes a kubeconfig holding the scheduler ServiceAccount's token (and, with
    TLS, the CA file's mount path becomes the local folder holding the Secret's ca.crt)."""
    text = _remount(scheduler_config(docs), mounts or {})
    kubeconfig = kubeconfig_for(cluster, "tessera-scheduler")
    changed, n = re.subn(r'(?m)^  kubeconfig: ""$', f'  kubeconfig: "{kubeconfig}"', text)
    assert n == 1, "the chart's config no longer has the in-cluster kubeconfig line"
    path = cluster.work / f"{name}-config.yaml"
    path.write_text(changed)
    flags = [f for f in _container(docs, "kube-scheduler")["command"][1:] if "--config" not in f]
    port = free_port()
    argv = [cluster._bin("kube-scheduler"), f"--config={path}",
            "--bind-address=127.0.0.1", f"--secure-port={port}",
            f"--cert-dir={cluster.work / (name + '-pki')}",
            *[f for f in flags if not f.startswith("--cert-dir")]]  # fmt: skip
    proc = _launch(cluster, name, argv)
    proc.wait_ready(lambda: _ok(f"https://127.0.0.1:{port}/healthz"), cluster.opts.ready_timeout_s)
    return changed


def add_gpu_node(api: KubeApi, name: str, gpus: int = 8) -> None:
    from devcluster.nodes import GpuSpec

    api.create_node(node_object(NodeSpec(name, gpus=[GpuSpec()] * gpus)))


def gpu_pod(name: str, gpus: int) -> dict[str, Any]:
    return pod_object(name, {"nvidia.com/gpu": str(gpus)}, scheduler_name="tessera-scheduler")


def verb_count(metrics_url: str, verb: str) -> float:
    text = httpx.get(metrics_url, timeout=10).text
    pattern = rf'^tessera_extender_requests_total\{{code="200",verb="{verb}"\}} (\S+)$'
    m = re.search(pattern, text, re.M)
    return float(m.group(1)) if m else 0.0


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, verify=False, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def plain_pod(name: str, resources: dict[str, str], scheduler: str | None = None) -> dict[str, Any]:
    """A pod as a user writes it: schedulerName only if given."""
    pod = pod_object(name, resources)
    if scheduler is None:
        del pod["spec"]["schedulerName"]
    else:
        pod["spec"]["schedulerName"] = scheduler
    return pod


def wait_mutated(api: KubeApi, namespace: str, resources: dict[str, str]) -> str:
    """Create GPU pods until one comes back mutated (the policy is loaded asynchronously);
    returns that pod's name. Unbound pods are deleted at once (no kubelet holds them)."""
    from devcluster.kubeapi import wait_for

    tries = iter(range(10_000))

    def one() -> str | None:
        name = f"gpu-{next(tries)}"
        pod = api.create_pod(plain_pod(name, resources), namespace)
        if pod["spec"]["schedulerName"] != "default-scheduler":
            return name
        api.delete_pod(name, namespace)
        return None

    return wait_for("the GPU-namespace policy to mutate a pod", one, 60, every_s=0.5)


def stop(cluster: DevCluster, *names: str) -> None:
    """Stop processes started with `_launch` (the old scheduler pod's containers)."""
    for name in names:
        cluster.procs.pop(name).stop()


def start_agent(cluster: DevCluster, node: str, nvml_capture: Path) -> None:
    """`tessera agent` replaying a recorded GPU, authenticated as the chart's agent account."""
    argv = [sys.executable, "-m", "cli.main", "agent", "--node-name", node,
            "--nvml-replay", str(nvml_capture), "--port", "0", "--host", "127.0.0.1",
            "--interval", "0.5", "--publish", "on",
            "--kubeconfig", str(kubeconfig_for(cluster, "tessera-agent"))]  # fmt: skip
    _launch(cluster, f"agent-{node}", argv, env=cluster.opts.tessera_env)


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def provide_tls_secret(api: KubeApi, folder: Path, name: str, namespace: str) -> None:
    """What `tls.source: secret` asks of the user: a kubernetes.io/tls Secret with tls.crt,
    tls.key and ca.crt, its certificate naming 127.0.0.1 (made here with openssl: a CA, then a
    serving certificate it signs)."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_key, ca, key, csr, crt = (
        folder / n for n in ("ca.key", "ca.crt", "tls.key", "tls.csr", "tls.crt")
    )
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key),
            "-out", str(ca), "-days", "1", "-subj", "/CN=tessera-test-ca")  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
            "-subj", "/CN=tessera-extender")  # fmt: skip
    ext = folder / "san.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
            "-CAcreateserial", "-out", str(crt), "-days", "1", "-extfile", str(ext))  # fmt: skip
    data = {
        n: base64.b64encode((folder / n).read_bytes()).decode()
        for n in ("tls.crt", "tls.key", "ca.crt")
    }
    secret = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
              "metadata": {"name": name, "namespace": namespace}, "data": data}  # fmt: skip
    api.request("POST", f"/api/v1/namespaces/{namespace}/secrets", secret)


def secret_volume(api: KubeApi, name: str, namespace: str, folder: Path) -> Path:
    """The Secret's keys as files, as the kubelet mounts a secret volume."""
    secret = api.request("GET", f"/api/v1/namespaces/{namespace}/secrets/{name}")
    folder.mkdir(parents=True, exist_ok=True)
    for key, value in secret["data"].items():
        (folder / key).write_bytes(base64.b64decode(value))
    return folder


CRD_FETCH = Path(__file__).parent / "crds" / "fetch.sh"


def crd_dir() -> Path:
    """The upstream CRDs (Prometheus Operator, cert-manager), fetched by crds/fetch.sh."""
    run = subprocess.run(["bash", str(CRD_FETCH)], capture_output=True, text=True)
    if run.returncode != 0:
        last = (run.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"fetching the CRDs failed: {last}")
    return Path(run.stdout.strip().splitlines()[-1])


def apply_crds(api: KubeApi, folder: Path) -> list[str]:
    """Create every CRD in `folder` and wait until the apiserver serves each."""
    from devcluster.kubeapi import wait_for

    names = []
    for path in sorted(folder.glob("*.yaml")):
        for crd in yaml.safe_load_all(path.read_text()):
            if crd:
                api.request("POST", object_path(crd, named=False), crd)
                names.append(crd["metadata"]["name"])

    def established(name: str) -> bool | None:
        crd = api.request("GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
        conds = (crd.get("status") or {}).get("conditions") or []  # null until first reconciled
        return (
            True
            if any(c["type"] == "Established" and c["status"] == "True" for c in conds)
            else None
        )

    for name in names:
        wait_for(f"CRD {name} established", lambda n=name: established(n), 60)
    return names
