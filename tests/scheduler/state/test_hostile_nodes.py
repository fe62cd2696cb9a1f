"""Nodes from the cluster with a broken agent annotation or absurd allocatable (round 9
adversarial pass): the node falls back to GFD with the reason named, nothing crashes, and no
MIG instance is handed out twice. Over the real parser, `ClusterStore` and `Extender`."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.state.extender import Extender
from scheduler.state.nodes import parse_node
from scheduler.state.store import ClusterStore
from tests.builders import gpu_json, node_json, pod_json


def annotated(gpus: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
    return node_json("n1", gpus, allocatable={"nvidia.com/gpu": "1"}, **kw)


def with_field(path: tuple[str, ...], value: object) -> dict[str, Any]:
    g = gpu_json(0, mig=True)
    at = g
    for k in path[:-1]:
        at = at[k]
    at[path[-1]] = value
    return g


# One bad field: the annotation is refused with a reason naming it; GFD (1 GPU) is used.
@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        (("mig", "instances"), 5, "mig.instances must be a list"),  # was TypeError: node lost
        (("mig", "instances"), True, "mig.instances must be a list"),
        (("index",), 2**40, "index must be an integer 0..2147483647"),  # int64 overflow
        (("memory_mib",), 2**63, "memory_mib must be an integer"),  # was OverflowError
        (("health", "ecc_uncorrectable"), 10**30, "ecc_uncorrectable must be an integer"),
        (("health", "temperature_c"), "1e999", "temperature_c has bad value '1e999'"),
        (("load", "utilization_pct"), -1, "utilization_pct has bad value -1"),
    ],
)
def test_bad_annotation_field_falls_back_to_gfd_naming_it(path, value, named) -> None:
    doc = {"version": 1, "updated": "2026-11-26T18:00:00Z", "gpus": [with_field(path, value)]}
    obj = annotated([])
    obj["metadata"]["annotations"]["tessera.io/gpus"] = json.dumps(doc)
    node, problem = parse_node(obj)
    assert named in problem and "using GFD labels instead" in problem and "\n" not in problem
    assert node.source == "gfd" and len(node.gpus) == 1


# MIG geometry the GPU cannot hold (H100: 8 memory slices; 3g.40gb starts at 0 or 4).
@pytest.mark.parametrize(
    ("instances", "named"),
    [
        ([("3g.40gb", 0), ("3g.40gb", 0)], "two instances start at one memory slice"),
        ([("3g.40gb", 0), ("4g.40gb", 0)], "two instances start at one memory slice"),
        ([("7g.80gb", 0), ("1g.10gb", 3)], "overlaps"),  # 7g takes slices 0-7
        ([("1g.10gb", 99)], "cannot start at memory slice 99"),  # beyond the 8 slices
        ([("bogus", 0)], "bogus"),  # no such profile on an H100
    ],
)
def test_impossible_mig_geometry_is_refused(instances, named) -> None:
    g = gpu_json(0, mig=True, instances=[(p, s, False) for p, s in instances])
    node, problem = parse_node(annotated([g]))
    assert named in problem and node.source == "gfd"


def test_duplicate_mig_instance_is_never_handed_out_twice() -> None:
    """Listed twice, 3g.40gb@0 was reserved for two pods one after the other."""
    g = gpu_json(0, mig=True, instances=[("3g.40gb", 0, False), ("3g.40gb", 0, False)])
    store = ClusterStore()
    store.upsert_node(node_json("n1", [g]))  # no GFD fallback here: the node offers nothing
    ext = Extender(store)
    first = ext.filter(pod_json("a", {"nvidia.com/mig-3g.40gb": "1"}), ["n1"])
    second = ext.filter(pod_json("b", {"nvidia.com/mig-3g.40gb": "1"}), ["n1"])
    placed = [r.reserved for r in (first, second) if r.reserved is not None]
    assert len(placed) <= 1


@pytest.mark.parametrize(
    "allocatable",
    [
        {"nvidia.com/gpu": "2000000"},  # was 47 s of indexing, then int16 overflow everywhere
        {"nvidia.com/mig-1g.10gb": "1e18"},
        {"cpu": "9e18", "memory": "9e18"},  # was an int64 overflow in every filter
    ],
)
def test_absurd_allocatable_never_blinds_the_extender_for_other_nodes(allocatable) -> None:
    store = ClusterStore()
    store.upsert_node(node_json("bad", None, annotate=False, allocatable=allocatable))
    store.upsert_node(node_json("good", [gpu_json(0)]))
    ext = Extender(store)
    t0 = time.perf_counter()
    r = ext.filter(pod_json("p", {"nvidia.com/gpu": "1"}), ["bad", "good"])
    assert "good" in r.passed and r.error == ""
    assert time.perf_counter() - t0 < 2.0


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=12,
)  # fmt: skip
_INSTANCE = st.fixed_dictionaries(
    {"profile": st.sampled_from(["1g.10gb", "3g.40gb", "7g.80gb", "bogus", ""]),
     "start": st.integers(-1, 9) | _JSON, "in_use": st.booleans()})  # fmt: skip
_LISTED = st.integers() | st.booleans() | st.lists(_INSTANCE, max_size=3) | _JSON
_MIG = st.fixed_dictionaries({"enabled": st.booleans(), "instances": _LISTED})
_FIELDS = {**dict.fromkeys(("index", "uuid", "model", "memory_mib", "health", "load"), _JSON),
           "mig": _MIG}  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.lists(st.fixed_dictionaries({}, optional=_FIELDS), max_size=3),
       st.sampled_from([None, {"nvidia.com/gpu": "2"}]))  # fmt: skip
def test_any_annotation_gives_a_node_and_a_filter_answer(gpus, allocatable) -> None:
    """Invariant: whatever the agent wrote, the node parses (annotation used, or GFD with a
    one-line reason) and a filter over it and a healthy node answers without raising."""
    obj = node_json("bad", None, annotate=False, allocatable=allocatable)
    doc = {"version": 1, "updated": "2026-11-26T18:00:00Z", "gpus": gpus}
    obj["metadata"]["annotations"]["tessera.io/gpus"] = json.dumps(doc)
    node, problem = parse_node(obj)
    assert node.source in ("annotation", "gfd", "none") and "\n" not in problem
    store = ClusterStore()
    store.upsert_node(obj)
    store.upsert_node(node_json("good", [gpu_json(0)]))
    ext = Extender(store)
    for req in ({"nvidia.com/gpu": "1"}, {"tessera.io/gpu-milli": "300"},
                {"tessera.io/mig-1g.10gb": "1"}):  # fmt: skip
        r = ext.filter(pod_json("p", req), ["bad", "good"])
        assert r.error == "" and set(r.passed) | set(r.failed) | set(r.unresolvable) == {
            "bad", "good"}  # fmt: skip
