"""The chart's two scheduler replicas against a real kube-apiserver: kube-scheduler leader
election lets one replica schedule, so only that replica's Tessera sidecar is called; the other
sidecar is synced and ready, and when the leader goes its replica takes over without booking a
GPU twice.

Each replica is the chart's scheduler pod played by two processes under the chart's
ServiceAccount (chartrun). Pods have a network namespace each, so both replicas' sidecars listen
on 127.0.0.1:8888 in a cluster; here they share one host, so each replica is rendered with its
own `extender.port` (the only difference between the two configurations).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from devcluster.cluster import DevCluster
from tests.e2e import chartrun
from tests.e2e.helpers import placement, wait_bound
from tests.manifests.chart import documents, template

pytestmark = pytest.mark.e2e


def test_only_the_leaders_sidecar_is_called_and_the_warm_follower_takes_over(
    make_cluster: Callable[..., DevCluster], helm_bin: Path
) -> None:
    cluster = make_cluster(extender=False, authorization_mode="RBAC")
    api = cluster.api
    chartrun.install(helm_bin, cluster, "tessera")
    ports = [chartrun.free_port(), chartrun.free_port()]
    metrics = []
    for i, port in enumerate(ports):
        docs = documents(template(helm_bin, "--set", f"extender.port={port}"))
        metrics.append(chartrun.start_sidecar(cluster, docs, port, name=f"sidecar-{i}"))
        chartrun.start_chart_scheduler(cluster, docs, name=f"kube-scheduler-{i}")
    chartrun.add_gpu_node(api, "gpu-0", gpus=2)
    api.create_pod(chartrun.gpu_pod("job-0", gpus=1))
    wait_bound(api, ["job-0"], timeout_s=120)

    calls = [chartrun.verb_count(m, "filter") for m in metrics]
    print(f"\nfilter calls per replica while both run: {calls}")
    assert sorted(c > 0 for c in calls) == [False, True], calls  # exactly one replica is called
    leader = calls.index(max(calls))
    follower = 1 - leader
    # The follower's sidecar was never called, yet it is synced and ready.
    ready = metrics[follower].replace("/metrics", "/readyz")
    assert httpx.get(ready, timeout=5).status_code == 200

    # The leader's pod goes away; the follower's kube-scheduler takes the lease and its sidecar,
    # which watched job-0 being bound, gives the next job the other GPU.
    chartrun.stop(cluster, f"kube-scheduler-{leader}", f"sidecar-{leader}")
    api.create_pod(chartrun.gpu_pod("job-1", gpus=1))
    wait_bound(api, ["job-1"], timeout_s=120)
    assert chartrun.verb_count(metrics[follower], "bind") >= 1
    used = [g.index for pod in ("job-0", "job-1") for g in placement(api, pod).gpus]
    print(f"GPU indices of job-0, job-1 across the failover: {used}")
    assert sorted(used) == [0, 1]
