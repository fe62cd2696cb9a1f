"""Hypothesis strategies for what a schema fuzzer does not try: deep, huge, duplicate-key and
unknown-field request bodies, and forged annotations arriving through the Pod watch.

Requests go through the real app in process (Starlette's TestClient); watch events through a
real `Informer` into the real `ClusterStore`, from `EventsSource`, a stand-in apiserver that
replays the generated events. Invariants: no 5xx, every refusal one JSON line, the watch never
stops, and no forged annotation can place a pod on a GPU its node does not have.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import orjson
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.kube.watch import PODS, Informer, Resource
from scheduler.policy.model import UNKNOWN_INDEX
from tests.builders import pod_json
from tests.fuzz.checks import assert_sound
from tests.fuzz.rig import STRATEGY_EXAMPLES, TALLY, build_app

APP, STORE = build_app()
CLIENT = TestClient(APP)
NODES = sorted(STORE.snapshot(0).nodes)
SETTINGS = settings(
    max_examples=STRATEGY_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)

GPU_REQUESTS = st.sampled_from(
    [{}, {"nvidia.com/gpu": "1"}, {"nvidia.com/gpu": "3"}, {"tessera.io/gpu-milli": "250"},
     {"nvidia.com/mig-3g.40gb": "1"}, {"nvidia.com/gpu": "-1"}, {"nvidia.com/gpu": "1e400"},
     {"tessera.io/gpu-milli": "5000"}, {"nvidia.com/gpu": None}]
)  # fmt: skip
SCALARS = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=20)


def nested(depth: int, leaf: Any = 1) -> Any:
    doc = leaf
    for i in range(depth):
        doc = [doc] if i % 2 else {"k": doc}
    return doc


@st.composite
def pods(draw: st.DrawFn) -> dict[str, Any]:
    pod = pod_json(draw(st.sampled_from(["p", "q", "bound", "pending"])), draw(GPU_REQUESTS))
    if draw(st.booleans()):  # unknown fields at any level
        pod[draw(st.text(min_size=1, max_size=8))] = draw(SCALARS)
        pod["spec"][draw(st.text(min_size=1, max_size=8))] = draw(SCALARS)
    if draw(st.booleans()):  # deep values where Tessera does not look, or does
        where = draw(st.sampled_from(["spec", "metadata", "status"]))
        pod[where]["deep"] = nested(draw(st.integers(0, 200)))
    if draw(st.booleans()):
        pod["metadata"]["annotations"] = {
            "tessera.io/placement": draw(annotation_texts()),
            "tessera.io/gang": draw(st.text(max_size=5)),
        }
    return pod


def annotation_texts() -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(max_size=50),
        st.integers(0, 6000).map(lambda d: "[" * d + "]" * d),
        st.integers(0, 6000).map(lambda d: "[" * d),
        forged_placements().map(json.dumps),
    )


def forged_placements() -> st.SearchStrategy[dict[str, Any]]:
    grant = st.fixed_dictionaries(
        {"index": st.integers(-3, 40), "uuid": st.sampled_from(["", "GPU-0000", "GPU-0001", "X"])},
        optional={"milli": st.integers(-5, 3000), "profile": st.sampled_from(["3g.40gb", "zz"])},
    )
    return st.fixed_dictionaries(
        {"version": st.sampled_from([1, 1, 1, 2, "1"]), "node": st.sampled_from(NODES + ["nope"]),
         "gpus": st.lists(grant, max_size=10)}
    )  # fmt: skip


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    """A request body for any verb: mostly well-formed, with hostile parts mixed in."""
    verb_shape = draw(st.sampled_from(["args", "names-huge", "bind", "preempt", "raw"]))
    pod = draw(pods())
    if verb_shape == "args":
        names = draw(st.lists(st.sampled_from(NODES + ["ghost", ""]), max_size=20))
        doc: Any = {"Pod": pod, "NodeNames": names}
        if draw(st.booleans()):
            doc = {"Pod": pod, "Nodes": {"items": [{"metadata": {"name": n}} for n in names]}}
    elif verb_shape == "names-huge":
        doc = {"Pod": pod, "NodeNames": NODES * draw(st.sampled_from([1, 100, 1700]))}
    elif verb_shape == "bind":
        doc = {"PodName": pod["metadata"]["name"], "PodNamespace": "default",
               "PodUID": draw(st.sampled_from(["", pod["metadata"]["uid"], "x"])),
               "Node": draw(st.sampled_from(NODES + [""]))}  # fmt: skip
    elif verb_shape == "preempt":
        victim = draw(st.sampled_from([{"metadata": None}, {"metadata": {"uid": "u"}}, None, 5]))
        meta = draw(st.sampled_from([None, {"n1": {"Pods": [{"UID": 1}]}}]))
        node = draw(st.sampled_from(NODES))
        doc = {"Pod": pod, "NodeNameToVictims": {node: {"Pods": [victim]}},
               "NodeNameToMetaVictims": meta}  # fmt: skip
    else:
        return draw(st.binary(max_size=200))
    text = orjson.dumps(doc)
    if draw(st.booleans()):  # field names in another case, as Go's decoder accepts
        text = text.replace(b'"Pod"', b'"pOD"').replace(b'"NodeNames"', b'"nodenames"')
    if draw(st.booleans()):  # a duplicate key: the last one wins in Go and in orjson
        text = text[:-1] + b', "Pod": ' + orjson.dumps(draw(pods())) + b"}"
    return text


@given(st.sampled_from(["filter", "prioritize", "bind", "preempt"]), bodies())
@SETTINGS
def test_hostile_bodies_never_5xx(verb: str, body: bytes) -> None:
    r = CLIENT.post(f"/{verb}", content=body)
    TALLY.count(f"/{verb} strategies", r.status_code)
    assert_sound(r.status_code, r.content, body[:200])


class EventsSource:
    """Stand-in apiserver for one Informer: an empty list, then the given watch events."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = events

    def list(self, resource: Resource) -> tuple[list[dict[str, Any]], str]:
        return [], "1"

    def watch(self, resource: Resource, rv: str, timeout_s: int) -> Iterator[dict[str, Any]]:
        return iter(self.events)


@given(st.lists(st.tuples(st.sampled_from(NODES), annotation_texts()), min_size=1, max_size=8))
@SETTINGS
def test_forged_annotations_through_the_watch(pods_on: list[tuple[str, str]]) -> None:
    events = []
    for i, (node, text) in enumerate(pods_on):
        p = pod_json(f"w{i}", {"nvidia.com/gpu": "1"}, node=node, phase="Running",
                     annotations={"tessera.io/placement": text})  # fmt: skip
        p["metadata"]["resourceVersion"] = str(i + 2)
        events.append({"type": "ADDED", "object": p})
    inf = Informer(PODS, EventsSource(events), STORE)
    inf.relist()
    inf.watch_once()
    try:
        snap = STORE.snapshot(0)
        for i, (node, _) in enumerate(pods_on):
            rec = STORE.pod(f"default/w{i}")
            assert rec is not None and rec.allocation is not None  # folded, and charged
            indices = {g.index for g in snap.nodes[node].gpus}
            for grant in rec.allocation.placement.gpus:
                assert grant.index == UNKNOWN_INDEX or grant.index in indices, rec.problem
        pod = pod_json("after", {"nvidia.com/gpu": "1"})
        r = CLIENT.post("/filter", content=orjson.dumps({"Pod": pod, "NodeNames": NODES}))
        TALLY.count("/filter after forged watch", r.status_code)
        assert_sound(r.status_code, r.content)
        e = CLIENT.get("/explain", params={"pod": f"default/w{len(pods_on) - 1}"})
        assert_sound(e.status_code, e.content)
    finally:
        for i in range(len(pods_on)):
            STORE.delete_pod({"metadata": {"name": f"w{i}", "namespace": "default",
                                           "uid": f"uid-default-w{i}"}})  # fmt: skip
