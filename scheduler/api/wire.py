"""Wire types of `k8s.io/kube-scheduler/extender/v1`, decoded from and encoded to JSON with orjson.

The Go structs carry no json tags, so the JSON keys are the Go field names (`Pod`, `NodeNames`...),
nil pointers/maps travel as `null`, and Go decodes keys case-insensitively: decoding here is
case-insensitive too. Encoders emit the fields in the Go structs' order and map keys sorted, as
Go's `encoding/json` does, so replies are byte-for-byte what a Go extender would send.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import orjson

from scheduler import safejson
from scheduler.api.errors import BadRequest

MIN_PRIORITY = 0
MAX_PRIORITY = 10
_score = itemgetter(1)


@dataclass(frozen=True, slots=True)
class ExtenderArgs:
    """Filter and prioritize request. Exactly one of `node_names` (nodeCacheCapable: true) and
    `nodes` (the NodeList's items, nodeCacheCapable: false) is set."""

    pod: dict[str, Any]
    node_names: list[str] | None
    nodes: list[dict[str, Any]] | None

    @property
    def cache_mode(self) -> bool:
        return self.node_names is not None

    def names(self) -> list[str]:
        """The candidate node names, in request order, in either mode."""
        if self.node_names is not None:
            return self.node_names
        return [n["metadata"]["name"] for n in self.nodes or ()]


@dataclass(frozen=True, slots=True)
class BindingArgs:
    pod_name: str
    pod_namespace: str
    pod_uid: str
    node: str

    @property
    def pod_key(self) -> str:
        return f"{self.pod_namespace}/{self.pod_name}"


@dataclass(frozen=True, slots=True)
class PreemptionArgs:
    """Preempt request. `victims` maps node -> (victim pod UIDs, NumPDBViolations) whichever of
    `NodeNameToVictims` (full pods) and `NodeNameToMetaVictims` (UIDs) was sent;
    `victim_pods` keeps the full pod objects when they were sent."""

    pod: dict[str, Any]
    victims: dict[str, tuple[list[str], int]]
    victim_pods: dict[str, list[dict[str, Any]]] | None


# ---------------------------------------------------------------- decoding


def decode_json(body: bytes, limits: safejson.Limits = safejson.DOCUMENT) -> Any:
    try:
        return safejson.loads(body, limits, "request body")
    except safejson.JsonLimitError as exc:
        raise BadRequest(str(exc)) from None


def _fields(doc: Any, what: str) -> dict[str, Any]:
    """The object's keys folded to lower case (Go matches field names case-insensitively)."""
    if not isinstance(doc, dict):
        raise BadRequest(f"{what}: expected a JSON object, got {_kind(doc)}")
    return {k.lower(): v for k, v in doc.items()}


def _kind(v: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(v), "number"
    )


def _pod(v: Any, what: str) -> dict[str, Any]:
    if v is None:
        raise BadRequest(f"{what}: missing Pod")
    if not isinstance(v, dict):
        raise BadRequest(f"{what}: Pod must be an object, got {_kind(v)}")
    meta = v.get("metadata")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta["name"]:
        raise BadRequest(f"{what}: Pod.metadata.name missing or not a string")
    ns = meta.get("namespace", "default")
    if not isinstance(ns, str):
        raise BadRequest(f"{what}: Pod.metadata.namespace must be a string")
    return v


def _str_list(v: Any, what: str, limit: int) -> list[str]:
    if not isinstance(v, list):
        raise BadRequest(f"{what}: expected an array of strings, got {_kind(v)}")
    if len(v) > limit:
        raise BadRequest(f"{what}: {len(v)} names exceeds the limit of {limit} per request")
    if set(map(type, v)) <= {str}:  # C-speed check; thousands of names per request
        return v
    i, bad = next((i, s) for i, s in enumerate(v) if type(s) is not str)
    raise BadRequest(f"{what}[{i}]: expected a string, got {_kind(bad)}")


def _node_items(v: Any, limit: int) -> list[dict[str, Any]]:
    if not isinstance(v, dict):
        raise BadRequest(f"Nodes: expected a NodeList object, got {_kind(v)}")
    items = v.get("items")
    if items is None:
        return []
    if not isinstance(items, list):
        raise BadRequest(f"Nodes.items: expected an array, got {_kind(items)}")
    if len(items) > limit:
        raise BadRequest(f"Nodes.items: {len(items)} nodes exceeds the limit of {limit}")
    for i, node in enumerate(items):
        meta = node.get("metadata") if isinstance(node, dict) else None
        if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
            raise BadRequest(f"Nodes.items[{i}]: metadata.name missing or not a string")
    return items


# Per-request limits (Settings.max_nodes_per_request / max_victims_per_request override them).
MAX_NODES = 20_000
MAX_VICTIMS = 20_000


def decode_extender_args(body: bytes, *, max_nodes: int = MAX_NODES) -> ExtenderArgs:
    f = _fields(decode_json(body), "ExtenderArgs")
    pod = _pod(f.get("pod"), "ExtenderArgs")
    names, nodes = f.get("nodenames"), f.get("nodes")
    if names is not None:
        return ExtenderArgs(pod, _str_list(names, "NodeNames", max_nodes), None)
    if nodes is not None:
        return ExtenderArgs(pod, None, _node_items(nodes, max_nodes))
    raise BadRequest("ExtenderArgs: both NodeNames and Nodes are null; nothing to filter")


# A Kubernetes object name: a DNS-1123 subdomain (pods, nodes; a namespace is the stricter
# label, which the API server checks), lower case, as the API server validates it. The names
# go into the Binding's URL path: 'a/../../x' would have left the pod's own path.
OBJECT_NAME = r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$"  # also in /openapi.json
_OBJECT_NAME = re.compile(OBJECT_NAME)


def decode_binding_args(body: bytes) -> BindingArgs:
    f = _fields(decode_json(body), "ExtenderBindingArgs")
    values = []
    for key, go_name in (
        ("podname", "PodName"),
        ("podnamespace", "PodNamespace"),
        ("poduid", "PodUID"),
        ("node", "Node"),
    ):
        v = f.get(key)
        if not isinstance(v, str):
            raise BadRequest(f"ExtenderBindingArgs.{go_name}: expected a string, got {_kind(v)}")
        if not v and key != "poduid":
            raise BadRequest(f"ExtenderBindingArgs.{go_name}: must not be empty")
        if key != "poduid" and not _OBJECT_NAME.fullmatch(v):
            raise BadRequest(
                f"ExtenderBindingArgs.{go_name}: {v[:60]!r} is not a Kubernetes object name"
            )
        if key == "poduid" and len(v) > 128:
            raise BadRequest(f"ExtenderBindingArgs.PodUID: {len(v)} characters, at most 128")
        values.append(v)
    return BindingArgs(*values)


def _victims(
    v: Any, what: str, full: bool, seen: int, limit: int
) -> tuple[list[str], int, list[dict[str, Any]]]:
    f = _fields(v, what)
    pods = f.get("pods") or []
    if not isinstance(pods, list):
        raise BadRequest(f"{what}.Pods: expected an array, got {_kind(pods)}")
    if seen + len(pods) > limit:
        raise BadRequest(f"preemption: more than {limit} victims in one request")
    uids: list[str] = []
    for i, p in enumerate(pods):
        if full:
            meta = p.get("metadata") if isinstance(p, dict) else None
            uid = meta.get("uid") if isinstance(meta, dict) else None
        else:
            uid = _fields(p, f"{what}.Pods[{i}]").get("uid")
        if not isinstance(uid, str) or not uid:
            raise BadRequest(f"{what}.Pods[{i}]: UID missing or not a string")
        uids.append(uid)
    pdb = f.get("numpdbviolations", 0) or 0
    if not isinstance(pdb, int) or isinstance(pdb, bool):
        raise BadRequest(f"{what}.NumPDBViolations: expected an integer, got {_kind(pdb)}")
    return uids, pdb, pods if full else []


def decode_preemption_args(body: bytes, *, max_victims: int = MAX_VICTIMS) -> PreemptionArgs:
    f = _fields(decode_json(body), "ExtenderPreemptionArgs")
    pod = _pod(f.get("pod"), "ExtenderPreemptionArgs")
    meta, full = f.get("nodenametometavictims"), f.get("nodenametovictims")
    source, is_full = (meta, False) if meta is not None else (full, True)
    if source is None:
        return PreemptionArgs(pod, {}, None)
    if not isinstance(source, dict):
        name = "NodeNameToVictims" if is_full else "NodeNameToMetaVictims"
        raise BadRequest(f"{name}: expected an object, got {_kind(source)}")
    victims: dict[str, tuple[list[str], int]] = {}
    pods: dict[str, list[dict[str, Any]]] = {}
    total = 0
    for node, v in source.items():
        what = f"victims of node {node}"
        uids, pdb, full_pods = _victims(v, what, is_full, total, max_victims)
        total += len(uids)
        victims[node] = (uids, pdb)
        pods[node] = full_pods
    return PreemptionArgs(pod, victims, pods if is_full else None)


# ---------------------------------------------------------------- encoding


def _sorted(m: Mapping[str, Any]) -> dict[str, Any]:
    return {k: m[k] for k in sorted(m)}


# A failure reason may quote the pod (a node-affinity term naming 100,000 GPU products was
# quoted whole, ~690 KB, once per node: 1.4 MB for two nodes, gigabytes for thousands).
MAX_REASON = 1024


def _reasons(m: Mapping[str, str]) -> dict[str, str]:
    """`_sorted` with each reason at most `MAX_REASON` characters (each distinct text cut
    once; the common case, every text short, costs one pass over the distinct texts)."""
    texts = set(m.values())
    if not texts or max(map(len, texts)) <= MAX_REASON:
        return _sorted(m)
    cut = {t: t if len(t) <= MAX_REASON else t[: MAX_REASON - 3] + "..." for t in texts}
    return {k: cut[m[k]] for k in sorted(m)}


def encode_filter_result(
    *,
    cache_mode: bool,
    passed_names: Sequence[str],
    passed_nodes: Sequence[dict[str, Any] | orjson.Fragment] | None,
    failed: Mapping[str, str],
    unresolvable: Mapping[str, str],
    error: str = "",
) -> bytes:
    """ExtenderFilterResult: names in cache mode, full Node objects otherwise (gotcha 3: an
    empty pass list is sent as an empty list/NodeList, which reads as 'no node fits')."""
    doc = {
        "Nodes": None if cache_mode else {"metadata": {}, "items": list(passed_nodes or ())},
        "NodeNames": list(passed_names) if cache_mode else None,
        "FailedNodes": _reasons(failed),
        "FailedAndUnresolvableNodes": _reasons(unresolvable),
        "Error": error,
    }
    return orjson.dumps(doc)


HostScores = Sequence[tuple[str, int]]


def encode_host_priority_list(
    scores: HostScores, encode: Callable[[HostScores], bytes] | None = None
) -> bytes:
    """HostPriorityList: a bare JSON array of {Host, Score} with integer scores 0..10.

    `encode` (e.g. `nodebytes.HostPriorityBytes().encode`) writes the checked list; by default
    orjson does, from a list of dicts. The check runs as C loops (map/set/min/max) over
    thousands of hosts per call; only a bad list pays the per-item walk that names the
    offender."""
    vals = list(map(_score, scores))
    if vals and not (
        set(map(type, vals)) <= {int} and min(vals) >= MIN_PRIORITY and max(vals) <= MAX_PRIORITY
    ):
        for host, score in scores:
            if type(score) is not int or not MIN_PRIORITY <= score <= MAX_PRIORITY:
                raise ValueError(f"score for {host} is {score!r}, not an integer in 0..10")
    if encode is not None:
        return encode(scores)
    return orjson.dumps([{"Host": host, "Score": score} for host, score in scores])


def encode_binding_result(error: str = "") -> bytes:
    return orjson.dumps({"Error": error})


def encode_preemption_result(victims: Mapping[str, tuple[Sequence[str], int]]) -> bytes:
    """ExtenderPreemptionResult: only NodeNameToMetaVictims (node -> {Pods: [{UID}], NumPDB...})."""
    doc = {
        "NodeNameToMetaVictims": {
            node: {"Pods": [{"UID": u} for u in uids], "NumPDBViolations": pdb}
            for node, (uids, pdb) in sorted(victims.items())
        }
    }
    return orjson.dumps(doc)


def encode_error(message: str) -> bytes:
    """The one shape for a rejected request on any verb: {"Error": "<one line>"}."""
    return orjson.dumps({"Error": message})
