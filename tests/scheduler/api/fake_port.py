"""A FAKE scheduling core for unit tests of the HTTP edge only.

It stands in for `scheduler.api.adapter.FacadePort` (the real facade) so the wire layer's
decoding, error mapping, limits, auth and metrics can be tested in isolation. It decides by node
name prefix; it does no scheduling. End-to-end tests of real decisions use the real facade.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from scheduler.api.port import Victims
from scheduler.api.wire import BindingArgs
from scheduler.policy.results import FilterResult as FilterAnswer


class FakePort:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.lock = threading.Lock()

    def _record(self, verb: str, what: Any) -> None:
        with self.lock:
            self.calls.append((verb, what))

    @staticmethod
    def _check(pod: dict[str, Any]) -> None:
        name = pod["metadata"]["name"]
        if name == "bad-profile":
            raise ValueError("unknown MIG profile '9g.99gb' for H100-80GB; known: 1g.10gb, ...")
        if name == "boom":
            raise RuntimeError("core exploded\nwith a second line")

    def filter(
        self, pod: dict[str, Any], node_names: list[str], nodes: list[dict[str, Any]] | None
    ) -> FilterAnswer:
        self._record("filter", (pod["metadata"]["name"], list(node_names), nodes is not None))
        self._check(pod)
        if pod["metadata"]["name"] == "stray":
            return FilterAnswer(passed=["not-sent"])
        ans = FilterAnswer(passed=[])
        for n in node_names:
            if n.startswith("ok"):
                ans.passed.append(n)
            elif n.startswith("wrong"):
                ans.unresolvable[n] = "gpu_model: pod wants H100, node has A100"
            else:
                ans.failed[n] = "gpu_fit: 0 of 1 GPUs free"
        return ans

    def prioritize(
        self, pod: dict[str, Any], node_names: list[str], nodes: list[dict[str, Any]] | None
    ) -> list[tuple[str, int]]:
        self._check(pod)
        return [(n, len(n) % 11) for n in node_names]

    def bind(self, args: BindingArgs) -> str:
        self._record("bind", args)
        return "node taken: GPU 0 already bound" if args.node == "taken" else ""

    def preempt(self, pod: dict[str, Any], victims: Victims) -> dict[str, tuple[list[str], int]]:
        self._check(pod)
        # Keep only the first victim per node (a real core keeps those that free a placement).
        return {n: (list(uids[:1]), pdb) for n, (uids, pdb) in victims.items() if uids}

    def explain(self, pod_key: str) -> Any:
        if pod_key != "default/p1":
            raise KeyError(pod_key)
        return {"pod": pod_key, "nodes": {"ok-1": {"passed": True, "score": 7}}}

    def gauges(self) -> Mapping[str, Mapping[str, float]]:
        return {"tessera_reservations": {"reserved": 2, "bound": 5}}
