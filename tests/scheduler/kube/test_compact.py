"""`one_by_one`: each object of a parsed list comes back equal and in order, parsed afresh, and
the given list is emptied (so the parsed tree can be freed before the objects are folded)."""

from __future__ import annotations

import datetime as dt

import orjson
from hypothesis import given
from hypothesis import strategies as st

from scheduler.kube.compact import one_by_one
from scheduler.state.store import POD_GROUP_KINDS, ClusterStore
from tests.builders import gpu_json, node_json, pod_json

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=8)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)  # fmt: skip
json_objects = st.lists(st.dictionaries(st.text(max_size=6), json_values, max_size=5), max_size=8)


@given(json_objects)
def test_objects_come_back_equal_in_order_and_the_list_is_emptied(objects: list[dict]) -> None:
    expected = orjson.loads(orjson.dumps(objects))
    given_list = list(objects)
    got = list(one_by_one(given_list))
    assert got == expected and given_list == []


def test_each_object_is_a_new_tree() -> None:
    name = "node-" + "a" * 40  # not a cached or interned string
    obj = {"metadata": {"name": name}}
    (back,) = one_by_one([obj])
    assert back == obj and back["metadata"]["name"] is not name


def test_what_json_cannot_carry_comes_back_untouched() -> None:
    stamp = dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
    odd = [{"t": stamp}, {1: "int key"}, {"big": 2**70}, {"plain": 1}]
    got = list(one_by_one(list(odd)))
    assert got == odd and got[0]["t"] is stamp and got[1] is odd[1]


@given(st.permutations(range(4)), st.integers(1, 5))
def test_a_streamed_relist_equals_the_list_relist(order: list[int], min_member: int) -> None:
    # Whatever order the list has, PodGroups put first and folded one at a time give the
    # store the same pods (minMember read from the group) as the two-pass relist.
    group = {"kind": "PodGroup", "metadata": {"name": "g", "namespace": "default"},
             "spec": {"minMember": min_member}}  # fmt: skip
    member = pod_json("m", {"nvidia.com/gpu": 1}, labels={"scheduling.x-k8s.io/pod-group": "g"},
                      node="a", phase="Running")  # fmt: skip
    other = pod_json("o", {"nvidia.com/gpu": 1})
    objs = [[group, member, other, node_json("a", [gpu_json(0)])][i] for i in order]
    two_pass, streamed = ClusterStore(), ClusterStore()
    two_pass.replace(orjson.loads(orjson.dumps(objs)))
    ordered = orjson.loads(orjson.dumps(objs))
    ordered.sort(key=lambda o: o["kind"] not in POD_GROUP_KINDS)
    streamed.replace(one_by_one(ordered), ordered=True)
    assert [r.request for r in two_pass.pods()] == [r.request for r in streamed.pods()]
    assert two_pass.snapshot(0).allocations == streamed.snapshot(0).allocations
    assert two_pass.snapshot(0).nodes == streamed.snapshot(0).nodes
