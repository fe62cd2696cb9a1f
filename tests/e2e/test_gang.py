"""Scenario c: a gang of 4 binds whole or not at all; two competing gangs never deadlock."""

from __future__ import annotations

import pytest

from devcluster.kubeapi import wait_for
from devcluster.nodes import GpuSpec, NodeSpec, pod_object
from tests.e2e.helpers import add_nodes, node_of, stays_unbound, wait_bound

pytestmark = pytest.mark.e2e


def gang_pod(name: str, gang: str, size: int, gpus: int = 1) -> dict:
    return pod_object(
        name,
        {"nvidia.com/gpu": str(gpus)},
        labels={"scheduling.x-k8s.io/pod-group": gang},
        annotations={"tessera.io/gang-min-member": str(size)},
    )


def _two_nodes_of_two_gpus(api, *, blocker: bool = False) -> None:
    """Nodes g0 and g1, 2 GPUs each; with `blocker`, a plain 1-GPU pod bound on one first."""
    add_nodes(api, [NodeSpec(f"g{i}", gpus=[GpuSpec()] * 2) for i in range(2)])
    if blocker:
        api.create_pod(pod_object("blocker", {"nvidia.com/gpu": "1"}))
        wait_bound(api, ["blocker"])


def test_gang_of_4_binds_whole_or_not_at_all(tessera_cluster):
    api = tessera_cluster().api
    # 2 nodes x 2 GPUs = 4 GPUs; one is taken by a plain pod first, leaving 3 < 4.
    _two_nodes_of_two_gpus(api, blocker=True)
    members = [f"a-{i}" for i in range(4)]
    for m in members:
        api.create_pod(gang_pod(m, "gang-a", 4))
    assert stays_unbound(api, members, seconds=15) == [], "a partial gang was bound"
    # Free the GPU: now all 4 fit, and all 4 must bind.
    api.delete_pod("blocker")
    nodes = wait_bound(api, members, timeout_s=120)
    assert sorted(nodes.values()) == ["g0", "g0", "g1", "g1"]


def test_two_competing_gangs_do_not_deadlock(tessera_cluster):
    api = tessera_cluster().api
    # 4 GPUs: room for exactly one gang of 4 at a time.
    _two_nodes_of_two_gpus(api)
    a = [f"a-{i}" for i in range(4)]
    b = [f"b-{i}" for i in range(4)]
    for x, y in zip(a, b, strict=True):  # interleaved arrivals: the worst case for holding
        api.create_pod(gang_pod(x, "gang-a", 4))
        api.create_pod(gang_pod(y, "gang-b", 4))

    def winner() -> list[str] | None:
        for gang in (a, b):
            if all(node_of(api, m) for m in gang):
                return gang
        return None

    first = wait_for("one whole gang bound", winner, timeout_s=180)
    second = b if first is a else a
    assert not any(node_of(api, m) for m in second), "the losing gang was partly bound"
    for m in first:
        api.delete_pod(m)
    wait_bound(api, second, timeout_s=180)


def _failed_once(api, name: str) -> bool:
    conds = api.pod(name).get("status", {}).get("conditions") or []
    return any(c.get("type") == "PodScheduled" and c.get("status") == "False" for c in conds)


def test_a_waiting_gang_keeps_its_nodes_from_later_pods(tessera_cluster):
    api = tessera_cluster().api
    # 2 nodes x 2 GPUs; a blocker takes 1. A gang of 2 x 2 GPUs cannot start (3 free, 2 + 1),
    # so Tessera keeps 2 GPUs of each node for it (scheduler.policy.gang.drain_budgets). A later
    # 1-GPU pod would fit on either node, but not within the kept budgets: it waits.
    _two_nodes_of_two_gpus(api, blocker=True)
    members = [f"k-{i}" for i in range(2)]
    for m in members:
        api.create_pod(gang_pod(m, "gang-k", 2, gpus=2))
    wait_for("the gang tried and failed", lambda: _failed_once(api, members[0]) or None, 60)
    api.create_pod(pod_object("later", {"nvidia.com/gpu": "1"}))
    assert stays_unbound(api, ["later", *members], seconds=15) == []
    # The blocker ends: the gang starts on its kept GPUs; the later pod finds none left.
    api.delete_pod("blocker")
    nodes = wait_bound(api, members, timeout_s=120)
    assert sorted(nodes.values()) == ["g0", "g1"]
    assert node_of(api, "later") is None
