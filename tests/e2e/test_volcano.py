"""The real Volcano (vc-scheduler + vc-controller-manager from the vendored source) on the
real control plane: a gang binds all-or-nothing; a gang too big for the cluster stays Pending
with Volcano's reason on its PodGroup."""

from __future__ import annotations

import pytest

from devcluster.kubeapi import wait_for
from devcluster.nodes import NodeSpec, node_object, pod_object
from devcluster.volcano import GROUP_ANNOTATION, create_podgroup, get_podgroup, podgroup
from tests.e2e.helpers import node_of, stays_unbound, wait_bound

pytestmark = pytest.mark.e2e


def gang(cluster, name: str, size: int, gpus: int) -> list[str]:
    create_podgroup(cluster, podgroup(name, size))
    names = [f"{name}-{i}" for i in range(size)]
    for n in names:
        cluster.api.create_pod(pod_object(
            n, {"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": str(gpus)},
            annotations={GROUP_ANNOTATION: name}, scheduler_name="volcano",
        ))  # fmt: skip
    return names


def test_real_volcano_binds_a_gang_whole_and_leaves_a_too_big_gang_pending(make_cluster, twin_bins):
    volcano_dir, _kwok = twin_bins
    cluster = make_cluster(scheduler="volcano", volcano_dir=volcano_dir)
    for i in range(2):  # 2 nodes x 8 GPUs = 16
        cluster.api.create_node(node_object(NodeSpec(f"gpu-{i}", annotate=False)))
    # 3 x 4 GPUs = 12 <= 16: the whole gang binds.
    fits = gang(cluster, "fits", 3, 4)
    bound = wait_bound(cluster.api, fits, timeout_s=120)
    assert sorted(bound) == sorted(fits)
    # 3 x 8 GPUs = 24 > 16 (and > the 4 left): no member may bind, ever.
    big = gang(cluster, "too-big", 3, 8)
    assert stays_unbound(cluster.api, big, seconds=8) == []

    def reason() -> str | None:
        conds = get_podgroup(cluster, "too-big").get("status", {}).get("conditions") or []
        msgs = [f"{c.get('reason')}: {c.get('message')}" for c in conds
                if c.get("type") == "Unschedulable" and c.get("status") == "True"]  # fmt: skip
        return msgs[-1] if msgs else None

    why = wait_for("the too-big gang's Unschedulable condition", reason, timeout_s=60)
    assert "unschedulable" in why.lower() or "resource" in why.lower(), why
    assert all(node_of(cluster.api, p) is None for p in big)
    phase = get_podgroup(cluster, "too-big").get("status", {}).get("phase")
    assert phase in ("Pending", "Inqueue"), phase
