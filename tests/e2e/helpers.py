"""Shared steps for the e2e scenarios: node setup, waiting for binds, reading placements."""

from __future__ import annotations

import time
from collections.abc import Iterable

from devcluster.kubeapi import KubeApi, wait_for
from devcluster.nodes import NodeSpec, node_object
from scheduler.policy.model import Placement
from scheduler.state import placement as placement_annotation


def add_nodes(api: KubeApi, specs: Iterable[NodeSpec]) -> None:
    for spec in specs:
        api.create_node(node_object(spec))


def node_of(api: KubeApi, pod: str) -> str | None:
    return api.pod(pod)["spec"].get("nodeName")


def wait_bound(api: KubeApi, pods: Iterable[str], timeout_s: float = 90) -> dict[str, str]:
    names = list(pods)

    def all_bound() -> dict[str, str] | None:
        got = {n: node_of(api, n) for n in names}
        return got if all(got.values()) else None  # type: ignore[return-value]

    return wait_for(f"pods {names} bound", all_bound, timeout_s)


def placement(api: KubeApi, pod: str) -> Placement:
    """Tessera's `tessera.io/placement` annotation of a bound pod (fails if it is missing)."""
    ann = api.pod(pod)["metadata"].get("annotations") or {}
    assert placement_annotation.ANNOTATION in ann, f"{pod}: no {placement_annotation.ANNOTATION}"
    return placement_annotation.decode(ann[placement_annotation.ANNOTATION])


def failed_scheduling(api: KubeApi, pod: str, timeout_s: float = 60) -> str:
    """The message of the pod's latest FailedScheduling event (waits for one)."""

    def latest() -> str | None:
        evs = [e for e in api.events_for(pod) if e.get("reason") == "FailedScheduling"]
        evs.sort(key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
        return str(evs[-1].get("message")) if evs else None

    return wait_for(f"FailedScheduling event for {pod}", latest, timeout_s)


def stays_unbound(api: KubeApi, pods: Iterable[str], seconds: float) -> list[str]:
    """Watch `pods` for `seconds`; return those that got bound meanwhile (expected: none)."""
    names = list(pods)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        bound = [n for n in names if node_of(api, n)]
        if bound:
            return bound
        time.sleep(0.5)
    return []
