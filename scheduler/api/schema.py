"""The OpenAPI document of the extender (`GET /openapi.json`): the four verbs' request and reply
schemas, written as pydantic models that mirror `k8s.io/kube-scheduler/extender/v1`.

The verbs themselves are served by `fastpath.VerbEndpoints` from raw bytes (no pydantic on the
hot path), so these models only describe the wire: field names are the Go struct names (the Go
types carry no json tags), embedded Kubernetes objects are open (`extra="allow"`) with the
fields Tessera reads typed, and every refusal is the one-line `{"Error": ...}` reply. A fuzzer
(schemathesis, tests/fuzz) generates requests from this document.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

from scheduler.api import wire

_OPEN = ConfigDict(extra="allow")


class ObjectMeta(BaseModel):
    model_config = _OPEN
    name: str = Field(min_length=1)
    namespace: str | None = None
    uid: str | None = None
    resourceVersion: str | None = None  # noqa: N815 -- Kubernetes' JSON name
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None


class Pod(BaseModel):
    model_config = _OPEN
    metadata: ObjectMeta
    spec: dict[str, Any] | None = None
    status: dict[str, Any] | None = None


class Node(BaseModel):
    model_config = _OPEN
    metadata: ObjectMeta
    spec: dict[str, Any] | None = None
    status: dict[str, Any] | None = None


class NodeList(BaseModel):
    model_config = _OPEN
    metadata: dict[str, Any] | None = None
    items: list[Node] | None = Field(default=None, max_length=wire.MAX_NODES)


class ExtenderArgs(BaseModel):
    """Filter and prioritize request: `NodeNames` (nodeCacheCapable: true) or `Nodes`."""

    Pod: Pod
    Nodes: NodeList | None = None
    NodeNames: list[str] | None = Field(default=None, max_length=wire.MAX_NODES)


class EchoedNodeList(BaseModel):
    """The request's own Node objects that passed, echoed byte for byte (whatever they held)."""

    model_config = _OPEN
    metadata: dict[str, Any] | None = None
    items: list[dict[str, Any]]


class ExtenderFilterResult(BaseModel):
    Nodes: EchoedNodeList | None
    NodeNames: list[str] | None
    FailedNodes: dict[str, str]
    FailedAndUnresolvableNodes: dict[str, str]
    Error: str


class HostPriority(BaseModel):
    Host: str
    Score: int = Field(ge=wire.MIN_PRIORITY, le=wire.MAX_PRIORITY)


class ExtenderBindingArgs(BaseModel):
    PodName: str = Field(min_length=1, max_length=253, pattern=wire.OBJECT_NAME)
    PodNamespace: str = Field(min_length=1, max_length=253, pattern=wire.OBJECT_NAME)
    PodUID: str = Field(max_length=128)
    Node: str = Field(min_length=1, max_length=253, pattern=wire.OBJECT_NAME)


class ExtenderBindingResult(BaseModel):
    Error: str


class MetaPod(BaseModel):
    UID: str = Field(min_length=1)


class MetaVictims(BaseModel):
    Pods: list[MetaPod] | None = None
    NumPDBViolations: int = 0


class Victims(BaseModel):
    Pods: list[Pod] | None = None
    NumPDBViolations: int = 0


class ExtenderPreemptionArgs(BaseModel):
    Pod: Pod
    NodeNameToVictims: dict[str, Victims] | None = None
    NodeNameToMetaVictims: dict[str, MetaVictims] | None = None


class ExtenderPreemptionResult(BaseModel):
    NodeNameToMetaVictims: dict[str, MetaVictims]


class ErrorReply(BaseModel):
    """Any refused request, on every verb: one line naming what was wrong."""

    Error: str


# verb -> (request model, reply model; None = a bare array of HostPriority)
VERB_SCHEMAS: dict[str, tuple[type[BaseModel], type[BaseModel] | None]] = {
    "filter": (ExtenderArgs, ExtenderFilterResult),
    "prioritize": (ExtenderArgs, None),
    "bind": (ExtenderBindingArgs, ExtenderBindingResult),
    "preempt": (ExtenderPreemptionArgs, ExtenderPreemptionResult),
}
REFUSALS = {
    "400": "malformed JSON, wrong types, limits exceeded, or a pod the policy cannot read",
    "401": "bearer token missing or wrong (token_on_verbs)",
    "408": "the body, or the request line and headers, did not arrive within body_timeout_s",
    "413": "the body exceeds body_limit_bytes",
    "429": "the bodies read and not yet answered would exceed 4 x body_limit_bytes",
    "431": "the request line and headers exceed 64 KiB",
    "500": "an internal error (logged with its traceback; the reply is one line)",
    "503": "the watch cache is not synced, or a watch has stopped making progress",
}
REF = "#/components/schemas/{model}"


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def verb_paths() -> tuple[dict[str, Any], dict[str, Any]]:
    """The verbs' OpenAPI `paths` and the `components.schemas` they reference."""
    models = [m for pair in VERB_SCHEMAS.values() for m in pair if m is not None]
    models += [HostPriority, ErrorReply]
    _, top = models_json_schema([(m, "validation") for m in models], ref_template=REF)
    paths: dict[str, Any] = {}
    for verb, (request, reply) in VERB_SCHEMAS.items():
        ok = _ref(reply) if reply else {"type": "array", "items": _ref(HostPriority)}
        responses: dict[str, Any] = {"200": {"description": "the answer", "content": _json(ok)}}
        for code, why in REFUSALS.items():
            responses[code] = {"description": why, "content": _json(_ref(ErrorReply))}
        paths[f"/{verb}"] = {
            "post": {
                "operationId": verb,
                "summary": f"kube-scheduler extender {verb} (extender/v1)",
                "requestBody": {"required": True, "content": _json(_ref(request))},
                "responses": responses,
            }
        }
    return paths, top.get("$defs", {})
