"""The control plane itself: with no extender, the real kube-scheduler binds a plain pod."""

from __future__ import annotations

import pytest

from devcluster.kubeapi import wait_for
from devcluster.nodes import NodeSpec, node_object, pod_object

pytestmark = pytest.mark.e2e


def test_plain_pod_is_bound_by_the_real_scheduler_without_extender(make_cluster):
    cluster = make_cluster(extender=False)
    api = cluster.api
    for name in ("cpu-a", "cpu-b"):
        api.create_node(node_object(NodeSpec(name, gpus=[], cpu="4", memory="8Gi")))
    # 3 CPUs fit on either 4-CPU node; 5 fit on none, so that pod must stay Pending.
    api.create_pod(pod_object("fits", {"cpu": "3"}))
    api.create_pod(pod_object("too-big", {"cpu": "5"}))

    bound = wait_for("pod 'fits' bound", lambda: api.pod("fits")["spec"].get("nodeName"), 60)
    assert bound in {"cpu-a", "cpu-b"}

    def failed_event() -> str | None:
        for ev in api.events_for("too-big"):
            if ev.get("reason") == "FailedScheduling":
                return str(ev.get("message"))
        return None

    message = wait_for("FailedScheduling event for 'too-big'", failed_event, 60)
    assert "Insufficient cpu" in message
    assert api.pod("too-big")["spec"].get("nodeName") is None
