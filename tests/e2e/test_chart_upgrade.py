"""`helm upgrade` from the previous chart version (tests/e2e/charts/tessera-0.1.0.tgz, the first
released chart, packaged unchanged) to this checkout's chart, against the real apiserver.

There is no kubelet or controller-manager here, so the Deployment rollout an upgrade causes is
played by its effect: the scheduler pod's two processes (kube-scheduler with the chart's
configuration, `tessera serve` as its sidecar, both under the chart's ServiceAccount) are stopped
and started again from the new chart's rendering. Tessera keeps nothing on disk: the restarted
sidecar rebuilds every allocation from the pods' versioned `tessera.io/placement` annotations.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devcluster.cluster import DevCluster
from tests.e2e import chartrun
from tests.e2e.helpers import placement, stays_unbound, wait_bound
from tests.manifests.chart import documents, helm, template

pytestmark = pytest.mark.e2e

PREVIOUS = Path(__file__).parent / "charts" / "tessera-0.1.0.tgz"


def _gpu_indices(api: object, pods: list[str]) -> dict[str, list[int]]:
    return {p: sorted(g.index for g in placement(api, p).gpus) for p in pods}  # type: ignore[misc]


def test_upgrade_keeps_placements_and_the_rebuilt_extender_never_double_books(
    make_cluster: object, helm_bin: Path
) -> None:
    cluster: DevCluster = make_cluster(extender=False, authorization_mode="RBAC")  # type: ignore[operator]
    api = cluster.api
    port = chartrun.free_port()
    flags = ["--set", f"extender.port={port}"]

    # Chart 0.1.0: install, run its scheduler pod, place two jobs on an 8-GPU node.
    chartrun.install(helm_bin, cluster, "tessera", *flags, chart=PREVIOUS)
    old = documents(template(helm_bin, *flags, chart=PREVIOUS))
    chartrun.start_sidecar(cluster, old, port)
    chartrun.start_chart_scheduler(cluster, old)
    chartrun.add_gpu_node(api, "gpu-0", gpus=8)
    api.create_pod(chartrun.gpu_pod("train-a", gpus=4))
    api.create_pod(chartrun.gpu_pod("train-b", gpus=2))
    wait_bound(api, ["train-a", "train-b"], timeout_s=120)
    before = {p: api.pod(p) for p in ("train-a", "train-b")}
    held = _gpu_indices(api, ["train-a", "train-b"])

    # helm upgrade to this checkout's chart; the scheduler pod restarts with the new rendering.
    chartrun.install(helm_bin, cluster, "tessera", *flags)
    releases = json.loads(
        helm(helm_bin, "history", "tessera", "-n", "default", "--kubeconfig",
             str(cluster.kubeconfig), "-o", "json").stdout
    )  # fmt: skip
    charts = [r["chart"] for r in releases]
    new = documents(template(helm_bin, *flags))
    version = next(d for d in new if d["kind"] == "Deployment")["metadata"]["labels"][
        "helm.sh/chart"
    ]
    assert charts == ["tessera-0.1.0", version] and version != "tessera-0.1.0", charts
    chartrun.stop(cluster, "chart-kube-scheduler", "tessera-sidecar")
    chartrun.start_sidecar(cluster, new, port)
    chartrun.start_chart_scheduler(cluster, new)

    # Placements survive: same node, same annotation text, schema version 1.
    for pod, old_obj in before.items():
        now = api.pod(pod)
        assert now["spec"]["nodeName"] == old_obj["spec"]["nodeName"] == "gpu-0"
        ann = now["metadata"]["annotations"]["tessera.io/placement"]
        assert ann == old_obj["metadata"]["annotations"]["tessera.io/placement"]
        assert json.loads(ann)["version"] == 1
    # The rebuilt extender gives the two free GPUs, and only those, to the next job.
    api.create_pod(chartrun.gpu_pod("train-c", gpus=2))
    wait_bound(api, ["train-c"], timeout_s=120)
    got = _gpu_indices(api, ["train-a", "train-b", "train-c"])
    assert got["train-a"] == held["train-a"] and got["train-b"] == held["train-b"]
    every = got["train-a"] + got["train-b"] + got["train-c"]
    print(f"\nGPU indices after the upgrade: {got}")
    assert sorted(every) == list(range(8)), got  # 8 distinct GPUs: nothing booked twice
    # The node is full: one more GPU pod waits.
    api.create_pod(chartrun.gpu_pod("train-d", gpus=1))
    assert stays_unbound(api, ["train-d"], seconds=8) == []
