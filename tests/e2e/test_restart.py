"""Scenario f: Tessera restarted mid-run rebuilds its state from the apiserver; no GPU is
double-booked."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from devcluster.kubeapi import wait_for
from devcluster.nodes import GpuSpec, NodeSpec, pod_object
from tests.e2e.helpers import add_nodes, failed_scheduling, node_of, placement

pytestmark = pytest.mark.e2e


def test_restart_mid_run_rebuilds_state_and_never_double_books(tessera_cluster):
    cluster = tessera_cluster()
    api = cluster.api
    # 2 nodes x 2 GPUs, 500 milli per pod: room for exactly 2 x 2 x 2 = 8 pods. The in-tree fit
    # ignores tessera.io/gpu-milli, so only Tessera's accounting stands between pods and a GPU.
    add_nodes(api, [NodeSpec(f"n{i}", gpus=[GpuSpec()] * 2) for i in range(2)])
    names = [f"share-{i}" for i in range(12)]
    for i, name in enumerate(names):
        api.create_pod(pod_object(name, {"tessera.io/gpu-milli": "500"}))
        if i == 5:  # mid-run: kill Tessera and start a fresh process
            time.sleep(1.0)
            cluster.stop_tessera()
            cluster.start_tessera()

    def eight_bound() -> list[str] | None:
        bound = [n for n in names if node_of(api, n)]
        return bound if len(bound) >= 8 else None

    bound = wait_for("8 pods bound", eight_bound, timeout_s=180)
    time.sleep(5)  # give any wrong extra bind time to happen
    bound = [n for n in names if node_of(api, n)]
    assert len(bound) == 8, f"{len(bound)} pods bound onto room for 8"
    milli = Counter()
    for name in bound:
        p = placement(api, name)
        (grant,) = p.gpus
        assert p.node == node_of(api, name)
        milli[(p.node, grant.index)] += grant.milli or 0
    assert all(v <= 1000 for v in milli.values()), f"a GPU is double-booked: {milli}"
    assert sum(milli.values()) == 8 * 500
    waiting = [n for n in names if n not in bound]
    failed_scheduling(api, waiting[0])
