"""KWOK as the node agent: a bound pod goes Running, then Succeeded after the (compressed)
duration in its annotation -- never before it."""

from __future__ import annotations

import pytest

from devcluster.kubeapi import KubeApi, wait_for
from devcluster.kwok import DURATION_ANNOTATION, duration_value
from devcluster.nodes import NodeSpec, node_object, pod_object
from devcluster.twin.watch import PodWatch

pytestmark = pytest.mark.e2e


def test_a_bound_pod_runs_then_succeeds_after_its_compressed_duration(make_cluster, twin_bins):
    _volcano, kwok = twin_bins
    cluster = make_cluster(scheduler="default", kwok_bin=kwok)
    cluster.api.create_node(node_object(NodeSpec("gpu-0", annotate=False)))
    watch = PodWatch(KubeApi(cluster.server, cluster.token, cluster.ca_file)).start()
    try:
        # A 300 s job replayed at speedup 100 runs 3 s.
        ann = {DURATION_ANNOTATION: duration_value(300 / 100)}
        cluster.api.create_pod(pod_object("job-0", {"nvidia.com/gpu": "2"}, annotations=ann))
        done = wait_for("job-0 Succeeded", lambda: watch.pods.get("job-0") and
                        watch.pods["job-0"].succeeded, timeout_s=120)  # fmt: skip
        t = watch.pods["job-0"]
        assert t.node == "gpu-0"
        assert t.bound is not None and t.running is not None
        assert t.bound <= t.running < done
        # KWOK never completes it early (no jitter); 0.5 s: the watch may deliver Running late.
        assert done - t.running >= 3.0 - 0.5
        pod = cluster.api.pod("job-0")
        assert pod["status"]["phase"] == "Succeeded"
        term = pod["status"]["containerStatuses"][0]["state"]["terminated"]
        assert term["exitCode"] == 0
    finally:
        watch.stop()
