"""Golden tests for the extender/v1 wire encodings.

Request goldens are the exact bytes Go's `json.Marshal` produces in upstream
`kube-scheduler/extender/v1/types_test.go` (TestCompatibility); reply goldens are the encodings in
shared/reference/extender-protocol.md §1, written in Go's field order with sorted map keys.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.api import wire
from scheduler.api.errors import BadRequest

# Go's encoding of ExtenderArgs{Pod, Nodes{nodename}, NodeNames{node1}} (upstream test).
GO_EXTENDER_ARGS = (
    b'{"Pod":{"metadata":{"name":"podname","creationTimestamp":null},"spec":{"containers":null},'
    b'"status":{}},"Nodes":{"metadata":{},"items":[{"metadata":{"name":"nodename",'
    b'"creationTimestamp":null},"spec":{},"status":{"daemonEndpoints":{"kubeletEndpoint":'
    b'{"Port":0}},"nodeInfo":{"machineID":"","systemUUID":"","bootID":"","kernelVersion":"",'
    b'"osImage":"","containerRuntimeVersion":"","kubeletVersion":"","kubeProxyVersion":"",'
    b'"operatingSystem":"","architecture":""}}}]},"NodeNames":["node1"]}'
)
GO_BINDING_ARGS = (
    b'{"PodName":"mypodname","PodNamespace":"mypodnamespace","PodUID":"mypoduid","Node":"mynode"}'
)
GO_PREEMPTION_ARGS = (
    b'{"Pod":{"metadata":{"name":"podname","creationTimestamp":null},"spec":{"containers":null},'
    b'"status":{}},"NodeNameToVictims":{"foo":{"Pods":[{"metadata":{"name":"podname",'
    b'"creationTimestamp":null},"spec":{"containers":null},"status":{}}],"NumPDBViolations":1}},'
    b'"NodeNameToMetaVictims":{"foo":{"Pods":[{"UID":"myuid"}],"NumPDBViolations":1}}}'
)


@pytest.mark.parametrize("lower", [False, True])
def test_extender_args_golden_prefers_node_names(lower: bool) -> None:
    # Go decodes field names case-insensitively; upstream round-trips the lowercased bytes too.
    body = GO_EXTENDER_ARGS.lower() if lower else GO_EXTENDER_ARGS
    args = wire.decode_extender_args(body)
    assert args.pod["metadata"]["name"] == "podname"
    # Both present: cache mode wins, as in kube-scheduler's reply handling (§3.3 step 3).
    assert args.cache_mode and args.names() == ["node1"]


def test_extender_args_full_nodes_mode() -> None:
    doc = orjson.loads(GO_EXTENDER_ARGS)
    doc["NodeNames"] = None
    args = wire.decode_extender_args(orjson.dumps(doc))
    assert not args.cache_mode
    assert args.names() == ["nodename"]
    assert args.nodes is not None and args.nodes[0]["status"]["daemonEndpoints"]


@pytest.mark.parametrize("lower", [False, True])
def test_binding_args_golden(lower: bool) -> None:
    body = GO_BINDING_ARGS.lower() if lower else GO_BINDING_ARGS
    b = wire.decode_binding_args(body)
    assert (b.pod_name, b.pod_namespace, b.pod_uid, b.node) == (
        "mypodname",
        "mypodnamespace",
        "mypoduid",
        "mynode",
    )
    assert b.pod_key == "mypodnamespace/mypodname"


def test_preemption_args_golden_prefers_meta_victims() -> None:
    p = wire.decode_preemption_args(GO_PREEMPTION_ARGS)
    assert p.victims == {"foo": (["myuid"], 1)}
    assert p.victim_pods is None


def test_preemption_args_full_victims_take_uid_from_metadata() -> None:
    doc = orjson.loads(GO_PREEMPTION_ARGS)
    del doc["NodeNameToMetaVictims"]
    doc["NodeNameToVictims"]["foo"]["Pods"][0]["metadata"]["uid"] = "u-7"
    p = wire.decode_preemption_args(orjson.dumps(doc))
    assert p.victims == {"foo": (["u-7"], 1)}
    assert p.victim_pods is not None and p.victim_pods["foo"][0]["metadata"]["name"] == "podname"


def test_filter_result_cache_mode_golden() -> None:
    out = wire.encode_filter_result(
        cache_mode=True,
        passed_names=["n1"],
        passed_nodes=None,
        failed={"n2": "1 of 2 GPUs free"},
        unresolvable={"n3": "no 3g.40gb slice"},
    )
    assert out == (
        b'{"Nodes":null,"NodeNames":["n1"],"FailedNodes":{"n2":"1 of 2 GPUs free"},'
        b'"FailedAndUnresolvableNodes":{"n3":"no 3g.40gb slice"},"Error":""}'
    )


def test_filter_result_full_mode_echoes_node_objects() -> None:
    node = {"metadata": {"name": "n1", "labels": {"a": "b"}}, "status": {}}
    out = wire.encode_filter_result(
        cache_mode=False, passed_names=["n1"], passed_nodes=[node], failed={}, unresolvable={}
    )
    assert out == (
        b'{"Nodes":{"metadata":{},"items":[{"metadata":{"name":"n1","labels":{"a":"b"}},'
        b'"status":{}}]},"NodeNames":null,"FailedNodes":{},"FailedAndUnresolvableNodes":{},'
        b'"Error":""}'
    )


def test_filter_result_no_node_fits_is_an_empty_list_not_null() -> None:
    # Gotcha 3: null means "no node fits" too, but an explicit [] says so unambiguously.
    out = orjson.loads(
        wire.encode_filter_result(
            cache_mode=True, passed_names=[], passed_nodes=None, failed={"n": "x"}, unresolvable={}
        )
    )
    assert out["NodeNames"] == [] and out["Nodes"] is None


def test_failed_maps_are_sorted_like_go() -> None:
    out = wire.encode_filter_result(
        cache_mode=True,
        passed_names=[],
        passed_nodes=None,
        failed={"b": "x", "a": "y"},
        unresolvable={},
    )
    assert out.index(b'"a"') < out.index(b'"b"')


def test_host_priority_list_is_a_bare_array_of_ints() -> None:
    assert wire.encode_host_priority_list([("n1", 7), ("n2", 3)]) == (
        b'[{"Host":"n1","Score":7},{"Host":"n2","Score":3}]'
    )
    assert wire.encode_host_priority_list([]) == b"[]"


@pytest.mark.parametrize("bad", [5.0, -1, 11, True])
def test_host_priority_rejects_non_int_or_out_of_range(bad: object) -> None:
    # Gotcha 1: Go decodes Score into int64 and rejects 5.0; 0..10 is the extender range.
    with pytest.raises(ValueError, match="n1"):
        wire.encode_host_priority_list([("n1", bad)])  # type: ignore[list-item]


def test_binding_and_preemption_results_golden() -> None:
    assert wire.encode_binding_result() == b'{"Error":""}'
    assert wire.encode_binding_result("myerror") == b'{"Error":"myerror"}'
    # Upstream TestCompatibility's ExtenderPreemptionResult encoding.
    assert wire.encode_preemption_result({"foo": (["myuid"], 1)}) == (
        b'{"NodeNameToMetaVictims":{"foo":{"Pods":[{"UID":"myuid"}],"NumPDBViolations":1}}}'
    )


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"{not json", "malformed JSON"),
        (b"[]", "expected a JSON object, got array"),
        (b'{"NodeNames":["a"]}', "missing Pod"),
        (b'{"Pod":"x","NodeNames":["a"]}', "Pod must be an object, got string"),
        (b'{"Pod":{"metadata":{}},"NodeNames":["a"]}', "Pod.metadata.name"),
        (b'{"Pod":{"metadata":{"name":"p"}},"NodeNames":"a"}', "NodeNames: expected an array"),
        (b'{"Pod":{"metadata":{"name":"p"}},"NodeNames":[1]}', "NodeNames[0]"),
        (b'{"Pod":{"metadata":{"name":"p"}},"Nodes":[]}', "NodeList object, got array"),
        (b'{"Pod":{"metadata":{"name":"p"}},"Nodes":{"items":[{}]}}', "Nodes.items[0]"),
        (b'{"Pod":{"metadata":{"name":"p"}},"Nodes":null,"NodeNames":null}', "both NodeNames"),
    ],
)
def test_extender_args_bad_input_names_the_problem(body: bytes, needle: str) -> None:
    with pytest.raises(BadRequest) as info:
        wire.decode_extender_args(body)
    assert needle in info.value.message
    assert "\n" not in info.value.message


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b'{"PodName":"p","PodNamespace":"d","PodUID":"u"}', "Node: expected a string, got null"),
        (b'{"PodName":"","PodNamespace":"d","PodUID":"u","Node":"n"}', "PodName: must not"),
        (b'{"PodName":1,"PodNamespace":"d","PodUID":"u","Node":"n"}', "got number"),
        # Round 10: the names go into the Binding's URL path (a/../../x left the pod's path).
        (b'{"PodName":"a/../../x","PodNamespace":"d","PodUID":"u","Node":"n"}',
         "PodName: 'a/../../x' is not a Kubernetes object name"),
        (b'{"PodName":"p","PodNamespace":"..","PodUID":"u","Node":"n"}', "PodNamespace: '..'"),
        (b'{"PodName":"p","PodNamespace":"d","PodUID":"u","Node":"n\\u0000"}', "Node: 'n\\x00'"),
        (b'{"PodName":"p","PodNamespace":"d","PodUID":"u","Node":"' + b"n" * 254 + b'"}',
         "is not a Kubernetes object name"),
        # Upper case and '_' are not in a DNS-1123 subdomain (accepted before round 12)
        (b'{"PodName":"p","PodNamespace":"d","PodUID":"u","Node":"Node-1"}', "Node: 'Node-1'"),
        (b'{"PodName":"my_pod","PodNamespace":"d","PodUID":"u","Node":"n"}', "PodName: 'my_pod'"),
        (b'{"PodName":"p","PodNamespace":"d","PodUID":"' + b"u" * 129 + b'","Node":"n"}',
         "PodUID: 129 characters"),
    ],
)
def test_binding_args_bad_input(body: bytes, needle: str) -> None:
    with pytest.raises(BadRequest) as info:
        wire.decode_binding_args(body)
    assert needle in info.value.message


def test_preemption_args_bad_victims() -> None:
    body = b'{"Pod":{"metadata":{"name":"p"}},"NodeNameToMetaVictims":{"n":{"Pods":[{}]}}}'
    with pytest.raises(BadRequest, match=r"Pods\[0\]: UID missing"):
        wire.decode_preemption_args(body)


names = st.lists(st.text(min_size=1, max_size=12), max_size=20, unique=True)


@given(names, st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=20)))
def test_filter_result_round_trips(passed: list[str], failed: dict[str, str]) -> None:
    # Whatever names and reasons go in come back out unchanged (no escaping loss, no reorder).
    out = orjson.loads(
        wire.encode_filter_result(
            cache_mode=True, passed_names=passed, passed_nodes=None, failed=failed, unresolvable={}
        )
    )
    assert out["NodeNames"] == passed and out["FailedNodes"] == failed
    assert list(out) == ["Nodes", "NodeNames", "FailedNodes", "FailedAndUnresolvableNodes", "Error"]


@given(names)
def test_extender_args_decoding_keeps_names_in_order(node_names: list[str]) -> None:
    pod = {"metadata": {"name": "p"}}
    body = orjson.dumps({"Pod": pod, "Nodes": None, "NodeNames": node_names})
    assert wire.decode_extender_args(body).names() == node_names


def _recase(draw: st.DrawFn, word: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(word), max_size=len(word)))
    return "".join(c.swapcase() if f else c for c, f in zip(word, flips, strict=True))


@st.composite
def recased_binding(draw: st.DrawFn) -> tuple[bytes, tuple[str, str, str, str]]:
    name = st.from_regex(r"[a-z0-9]([a-z0-9.-]{0,8}[a-z0-9])?", fullmatch=True)
    values = tuple(draw(st.text(min_size=1, max_size=10) if i == 2 else name) for i in range(4))
    keys = ("PodName", "PodNamespace", "PodUID", "Node")
    doc = {_recase(draw, k): v for k, v in zip(keys, values, strict=True)}
    return orjson.dumps(doc), values  # type: ignore[return-value]


@given(recased_binding())
def test_binding_args_decode_under_any_key_casing(case: tuple[bytes, tuple[str, ...]]) -> None:
    # Go's decoder matches field names case-insensitively; so does ours.
    body, (name, ns, uid, node) = case
    b = wire.decode_binding_args(body)
    assert (b.pod_name, b.pod_namespace, b.pod_uid, b.node) == (name, ns, uid, node)


victims = st.dictionaries(
    st.text(min_size=1, max_size=8),
    st.tuples(st.lists(st.text(min_size=1, max_size=8), max_size=4), st.integers(0, 5)),
    max_size=6,
)


@given(victims)
def test_preemption_result_round_trips_through_the_request_decoder(v: dict) -> None:
    # What we answer in NodeNameToMetaVictims is exactly what kube-scheduler would read back.
    body = wire.encode_preemption_result(v)
    doc = orjson.loads(body)
    doc["Pod"] = {"metadata": {"name": "p"}}
    back = wire.decode_preemption_args(orjson.dumps(doc)).victims
    assert back == {n: (list(u), p) for n, (u, p) in v.items()}


@given(
    st.lists(
        st.tuples(
            st.text(min_size=1, max_size=8),
            st.one_of(st.integers(-3, 13), st.booleans(), st.floats(-1, 11)),
        ),
        max_size=30,
    )
)
def test_host_priority_list_accepts_exactly_int_scores_in_range(
    pairs: list[tuple[str, Any]],
) -> None:
    """Property: encoding succeeds iff every score is a plain int in 0..10 (the vectorised check
    agrees with a per-item one, bools and floats included), and the array decodes back."""
    ok = all(type(s) is int and 0 <= s <= 10 for _, s in pairs)
    if not ok:
        with pytest.raises(ValueError, match="not an integer in 0..10"):
            wire.encode_host_priority_list(pairs)
        return
    out = orjson.loads(wire.encode_host_priority_list(pairs))
    assert [(d["Host"], d["Score"]) for d in out] == pairs
