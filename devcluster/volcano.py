"""The real Volcano next to the dev-cluster's apiserver: CRDs, vc-controller-manager (it opens
the `default` Queue), vc-scheduler with the Helm chart's `volcano-scheduler.conf`.

Binaries and the files they read come from `tests/e2e/cluster/build-twin.sh` (the vendored
source tarball): `<dir>/vc-scheduler`, `<dir>/vc-controller-manager`, `<dir>/config/crd/`,
`<dir>/config/volcano-scheduler.conf`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from devcluster.kubeapi import KubeError, wait_for
from devcluster.procs import LaunchError, free_port

if TYPE_CHECKING:
    from devcluster.cluster import DevCluster

SCHEDULER_NAME = "volcano"
GROUP_ANNOTATION = "scheduling.k8s.io/group-name"
PODGROUPS = "/apis/scheduling.volcano.sh/v1beta1/namespaces/{ns}/podgroups"
QUEUE = "/apis/scheduling.volcano.sh/v1beta1/queues/default"
CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def check_dir(volcano_dir: Path) -> Path:
    need = ["vc-scheduler", "vc-controller-manager", "config/volcano-scheduler.conf",
            "config/crd/volcano/bases"]  # fmt: skip
    missing = [n for n in need if not (volcano_dir / n).exists()]
    if missing:
        raise LaunchError(f"volcano dir {volcano_dir}: missing {', '.join(missing)}")
    return volcano_dir


def crd_files(volcano_dir: Path) -> list[Path]:
    base = volcano_dir / "config" / "crd"
    # jobflow too: without its CRDs the controller-manager logs watch errors forever.
    return sorted((base / "volcano" / "bases").glob("*.yaml")) + sorted(
        (base / "jobflow" / "bases").glob("*.yaml")
    )


def apply_crds(cluster: DevCluster, volcano_dir: Path) -> None:
    names = []
    for f in crd_files(volcano_dir):
        for doc in yaml.safe_load_all(f.read_text(encoding="utf-8")):
            if doc and doc.get("kind") == "CustomResourceDefinition":
                cluster.api.request("POST", CRD_PATH, doc)
                names.append(doc["metadata"]["name"])
    for name in names:
        wait_for(f"CRD {name} established", _established_probe(cluster, name), 60.0)


def _established_probe(cluster: DevCluster, name: str) -> Callable[[], bool]:
    return lambda: _established(cluster, name)


def _established(cluster: DevCluster, name: str) -> bool:
    crd = cluster.api.request("GET", f"{CRD_PATH}/{name}")
    # A CRD just created may answer `"conditions": null` before the apiserver accepts its names.
    conds = (crd.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conds)


def start_volcano(cluster: DevCluster, volcano_dir: Path) -> None:
    """CRDs, then the controller-manager, then the scheduler; ready once the default Queue is
    Open (the queue controller's doing) so the first PodGroup is not refused."""
    check_dir(volcano_dir)
    apply_crds(cluster, volcano_dir)
    kc = f"--kubeconfig={cluster.kubeconfig}"
    cluster.launch("vc-controller-manager", [
        str(volcano_dir / "vc-controller-manager"), kc, "--leader-elect=false",
        f"--healthz-address=127.0.0.1:{free_port()}", "--kube-api-qps=1000",
        "--kube-api-burst=2000",
    ])  # fmt: skip
    argv = [
        str(volcano_dir / "vc-scheduler"), kc, "--leader-elect=false",
        f"--scheduler-conf={(volcano_dir / 'config' / 'volcano-scheduler.conf').resolve()}",
        f"--listen-address=127.0.0.1:{free_port()}", f"--healthz-address=127.0.0.1:{free_port()}",
    ]  # fmt: skip
    if cluster.opts.scheduler_verbosity:  # a diagnostic run (the twin's VC_SCHEDULER_V_ENV)
        argv.append(f"--v={cluster.opts.scheduler_verbosity}")
    sched = cluster.launch("vc-scheduler", argv)
    sched.wait_ready(lambda: _queue_open(cluster), cluster.opts.ready_timeout_s)


def _queue_open(cluster: DevCluster) -> bool:
    try:
        q = cluster.api.request("GET", QUEUE)
    except KubeError:
        return False
    return bool((q.get("status") or {}).get("state") == "Open")


def podgroup(name: str, min_member: int, min_resources: dict[str, str] | None = None,
             queue: str = "default") -> dict[str, Any]:  # fmt: skip
    """A PodGroup as Volcano's job controller writes one for a vcjob (minMember and, when
    given, minResources = minMember x the pod's request)."""
    spec: dict[str, Any] = {"minMember": min_member, "queue": queue}
    if min_resources:
        spec["minResources"] = dict(min_resources)
    return {
        "apiVersion": "scheduling.volcano.sh/v1beta1",
        "kind": "PodGroup",
        "metadata": {"name": name},
        "spec": spec,
    }


def create_podgroup(cluster: DevCluster, pg: dict[str, Any], namespace: str = "default") -> None:
    cluster.api.request("POST", PODGROUPS.format(ns=namespace), pg)


def get_podgroup(cluster: DevCluster, name: str, namespace: str = "default") -> dict[str, Any]:
    return dict(cluster.api.request("GET", PODGROUPS.format(ns=namespace) + f"/{name}"))
