"""Scenarios a and b: MIG placements on real geometry, through a real kube-scheduler, with
nodeCacheCapable true and false."""

from __future__ import annotations

import pytest

from devcluster.nodes import GpuSpec, NodeSpec, pod_object
from packing.catalogue import get_model
from packing.mig import MigInstance, check_layout
from tests.e2e.helpers import add_nodes, failed_scheduling, placement, wait_bound

pytestmark = pytest.mark.e2e

H100 = get_model("H100-80GB")


@pytest.mark.parametrize("node_cache_capable", [True, False], ids=["cache", "no-cache"])
def test_mixed_mig_fills_a_gpu_exactly_then_the_next_pod_waits_with_tesseras_reason(
    tessera_cluster, node_cache_capable
):
    cluster = tessera_cluster(node_cache_capable=node_cache_capable)
    api = cluster.api
    # One H100 with MIG on and no instances (dynamic MIG), beside a node whose GPU has MIG off.
    add_nodes(api, [NodeSpec("mig-node", gpus=[GpuSpec(mig=True)]),
                    NodeSpec("whole-node", gpus=[GpuSpec(mig=False)])])  # fmt: skip
    # 4g.40gb may only start at 0 (memory slices 0-3); 3g.40gb then fits only at 4 (slices 4-7):
    # 4 + 4 = all 8 memory slices, so a following 1g.10gb has nowhere to go.
    order = [("p-4g", "4g.40gb"), ("p-3g", "3g.40gb")]
    for name, profile in order:
        api.create_pod(pod_object(name, {f"tessera.io/mig-{profile}": "1"}))
        wait_bound(api, [name])  # one at a time: the geometry depends on arrival order
    placed = []
    for name, profile in order:
        p = placement(api, name)
        assert p.node == "mig-node", f"{name} must land on the MIG-enabled GPU, got {p.node}"
        (grant,) = p.gpus
        assert grant.profile == profile and grant.index == 0
        placed.append(MigInstance(profile, grant.start))  # type: ignore[arg-type]
    check_layout(H100, placed)  # raises if two instances overlap or a start is not allowed
    assert sorted(i.start for i in placed) == [0, 4]

    api.create_pod(pod_object("p-1g", {"tessera.io/mig-1g.10gb": "1"}))
    message = failed_scheduling(api, "p-1g")
    assert api.pod("p-1g")["spec"].get("nodeName") is None
    # Tessera's filter reasons reach the event (the in-tree fit ignores tessera.io/* resources):
    # the full GPU has no placement left, and the MIG-off GPU cannot host any profile.
    assert "0/2 nodes are available" in message, message
    assert "GpuFit: no free placement for 1 x 1g.10gb" in message, message
    assert "GpuFit: no MIG-enabled GPU here supports profile 1g.10gb" in message, message
