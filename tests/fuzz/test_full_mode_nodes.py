"""Full-Nodes mode (nodeCacheCapable: false) against a store a Node watch feeds, fuzzed (round 10):
whatever Nodes a request carries (names, resourceVersions, GPU counts, repeats), the store never
gains a node the watch did not deliver, and a request whose copy is not newer than the watch's
leaves the watch's GPU inventory in place. Over the real app, `Extender` and `ClusterStore`."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.api.adapter import FacadePort
from scheduler.api.app import EdgeConfig, create_app
from scheduler.state.extender import Extender
from scheduler.state.store import ClusterStore
from tests.builders import gpu_json, node_json, pod_json
from tests.fuzz.checks import assert_sound
from tests.fuzz.rig import STRATEGY_EXAMPLES, TALLY

WATCHED = {"n0": 2, "n1": 4}  # name -> GPUs, at resourceVersion 100


def watched_store() -> ClusterStore:
    store = ClusterStore(nodes_watched=True)
    nodes = []
    for name, gpus in WATCHED.items():
        n = node_json(name, [gpu_json(g) for g in range(gpus)])
        n["metadata"]["resourceVersion"] = "100"
        nodes.append(n)
    store.replace(nodes)
    return store


SETTINGS = settings(max_examples=STRATEGY_EXAMPLES, deadline=None,
                    suppress_health_check=list(HealthCheck), database=None)  # fmt: skip
STORE = watched_store()
CLIENT = TestClient(
    create_app(
        FacadePort(Extender(STORE, None, fold_request_nodes=True)),
        EdgeConfig(body_limit=1 << 22, token=None, token_on_verbs=False),
    )
)
VERSIONS = st.sampled_from([None, "", "1", "99", "100", "\u00b2", "9" * 30, "-1", 5, [1]])


@st.composite
def request_nodes(draw: st.DrawFn) -> list[dict[str, Any]]:
    out = []
    for _ in range(draw(st.integers(0, 6))):
        name = draw(st.sampled_from([*WATCHED, "fake", "n0 ", "\u00b2", "x" * 300]))
        n = node_json(name, [gpu_json(g) for g in range(draw(st.integers(0, 64)))])
        rv = draw(VERSIONS)
        if rv is not None:
            n["metadata"]["resourceVersion"] = rv
        out.append(n)
    return out


@SETTINGS
@given(request_nodes(), st.sampled_from(["filter", "prioritize"]))
def test_request_nodes_never_add_nodes_or_rewrite_a_newer_watch(nodes, verb) -> None:
    pod = pod_json("p", {"nvidia.com/gpu": "1"})
    body = orjson.dumps({"Pod": pod, "Nodes": {"metadata": {}, "items": nodes}})
    r = CLIENT.post(f"/{verb}", content=body)
    TALLY.count(f"/{verb} full-mode nodes", r.status_code)
    assert_sound(r.status_code, r.content, nodes)
    STORE.ledger.release("uid-default-p")
    snap = STORE.snapshot(0)
    assert set(snap.nodes) == set(WATCHED)  # never a node the watch did not deliver
    for name, gpus in WATCHED.items():  # none of the versions drawn is newer than 100
        assert len(snap.nodes[name].gpus) == gpus
