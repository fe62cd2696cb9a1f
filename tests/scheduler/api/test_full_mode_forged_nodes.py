"""Round 10, full-Nodes mode (nodeCacheCapable: false) over loopback HTTP against the real edge,
`Extender` and `ClusterStore`: a Node in a request must never outlast a genuine copy of the same
version, and a request cannot add nodes to a store a Node watch feeds."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from scheduler.api.adapter import FacadePort
from scheduler.api.app import EdgeConfig, create_app
from scheduler.api.server import serve_in_thread
from scheduler.state.extender import Extender
from scheduler.state.store import ClusterStore
from tests.builders import gang_member_json, gpu_json, node_json, pod_json

EDGE = EdgeConfig(body_limit=64 << 20, token=None, token_on_verbs=False)


class Rig:
    def __init__(self, url: str, store: ClusterStore, port: FacadePort) -> None:
        self.store, self.port = store, port
        self.http = httpx.Client(base_url=url, timeout=60)

    def filter(self, pod: dict[str, Any], *nodes: dict[str, Any]) -> dict[str, Any]:
        body = {"Pod": pod, "Nodes": {"metadata": {}, "items": list(nodes)}}
        r = self.http.post("/filter", content=orjson.dumps(body))
        assert r.status_code == 200, r.text
        return r.json()


def n1(rv: str, gpus: int = 2) -> dict[str, Any]:
    node = node_json("n1", [gpu_json(i) for i in range(gpus)])
    node["metadata"]["resourceVersion"] = rv
    return node


@pytest.fixture
def rig() -> Iterator[Rig]:
    """n1 (2 GPUs) at resourceVersion 50, delivered by the Node watch."""
    store = ClusterStore(nodes_watched=True)
    store.replace([n1("50")])
    port = FacadePort(Extender(store, None, fold_request_nodes=True))
    with serve_in_thread(create_app(port, EDGE)) as url:
        r = Rig(url, store, port)
        yield r
        r.http.close()


def test_a_forged_node_at_the_next_version_lasts_only_until_a_genuine_copy(rig: Rig) -> None:
    """Round 9's named leftover. The attacker sends n1 with 64 GPUs at 51, the version n1's
    next real change will have; kube-scheduler's informer then sees the change (still 2
    GPUs) and sends n1 at 51 before Tessera's watch does. Keyed by (name, version) the
    genuine copy looked known: it was never folded, and the reply echoed the forged bytes."""
    rig.filter(pod_json("attacker", {"nvidia.com/gpu": "4"}), n1("51", gpus=64))
    rig.store.ledger.release("uid-default-attacker")
    genuine = n1("51")
    r = rig.filter(pod_json("victim", {"nvidia.com/gpu": "4"}), genuine)
    # 4 GPUs on a 2-GPU node: unresolvable, and the store holds the genuine copy.
    assert r["Nodes"]["items"] == [] and "n1" in r["FailedAndUnresolvableNodes"]
    assert len(rig.store.snapshot(0).nodes["n1"].gpus) == 2
    ok = rig.filter(pod_json("fits", {"nvidia.com/gpu": "1"}), genuine)
    assert ok["Nodes"]["items"] == [genuine]  # the caller's own Node, not the forged bytes


def test_a_request_cannot_add_a_node_the_watch_never_delivered(rig: Rig) -> None:
    """A forged name was folded for good: 200 names in one request stayed in the store, and
    a gang planned its members onto the forged node's 64 GPUs."""
    fakes = [node_json(f"fake-{i}", [gpu_json(g) for g in range(8)]) for i in range(200)]
    r = rig.filter(pod_json("p", {"nvidia.com/gpu": "1"}), *fakes)
    assert r["Nodes"]["items"] == [] and len(r["FailedNodes"]) == 200  # unknown nodes
    assert set(rig.store.snapshot(0).nodes) == {"n1"}
    member = gang_member_json("m0", {"nvidia.com/gpu": "2"}, "g", 4)
    r = rig.filter(member, node_json("big", [gpu_json(g) for g in range(64)]), n1("50"))
    assert "big" not in rig.store.snapshot(0).nodes
    assert all(n["metadata"]["name"] != "big" for n in r["Nodes"]["items"])


def test_a_snapshot_store_still_learns_new_nodes_from_a_request() -> None:
    """No Node watch (`serve --snapshot`): a request's new node is the only news of it."""
    store = ClusterStore()
    store.replace([n1("50")])
    ext = Extender(store, None, fold_request_nodes=True)
    r = ext.filter(pod_json("p", {"nvidia.com/gpu": "1"}), ["n2"], [node_json("n2", [gpu_json(0)])])
    assert r.passed == ["n2"]


def test_names_learned_from_requests_stay_bounded(rig: Rig) -> None:
    """FacadePort remembered every (name, version) it was ever sent: 20 requests of 500 new
    names grew it to 10,000 entries, never pruned."""
    for k in range(20):
        nodes = [{**n1(str(60 + k)), "metadata": {"name": f"x{k}-{i}", "resourceVersion": "7"}}
                 for i in range(500)]  # fmt: skip
        rig.filter(pod_json(f"p{k}", {"cpu": "1"}), *nodes)
    assert len(rig.port._learned) <= 2 * 500 + 1024
