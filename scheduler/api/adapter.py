"""`FacadePort`: the edge's `ExtenderPort` over `scheduler.state.extender.Extender`.

`scheduler.api` and `scheduler.state` are independent sibling layers (pyproject's import
contract), so the facade is described here structurally and wired together by the CLI.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from operator import itemgetter
from typing import Any, Protocol

from scheduler.api.port import Victims
from scheduler.api.wire import BindingArgs
from scheduler.policy.results import FilterResult

_score = itemgetter(1)

# The facade's flat gauge names -> the Prometheus metric and its "kind" label.
GAUGE_NAMES = {
    "reservations": ("tessera_reservations", "reserved"),
    "gang_plans": ("tessera_gang_plans", ""),
    "nodes": ("tessera_nodes", ""),
    # (E1) stranded share of GPU capacity, see scheduler/policy/cluster_fragmentation.py
    "fragmentation_mig": ("tessera_cluster_fragmentation", "mig"),
    "fragmentation_shares": ("tessera_cluster_fragmentation", "shares"),
}


class SchedulingFacade(Protocol):
    def filter(
        self,
        pod: Mapping[str, Any],
        node_names: Sequence[str],
        nodes: Sequence[Mapping[str, Any]] | None = None,
    ) -> FilterResult: ...

    def prioritize(
        self,
        pod: Mapping[str, Any],
        node_names: Sequence[str],
        nodes: Sequence[Mapping[str, Any]] | None = None,
    ) -> list[tuple[str, int]]: ...

    def bind(self, name: str, namespace: str, uid: str, node: str) -> str: ...

    def preempt(
        self, pod: Mapping[str, Any], victims: Mapping[str, tuple[Sequence[str], int]]
    ) -> dict[str, tuple[list[str], int]]: ...

    def explain(self, pod_key: str) -> Any: ...

    def gauges(self) -> Mapping[str, float]: ...


class FacadePort:
    def __init__(
        self,
        facade: SchedulingFacade,
        extra_gauges: Mapping[str, Any] | None = None,
    ) -> None:
        self.facade = facade
        # nodeCacheCapable: false sends every candidate Node on every call; the facade re-parses
        # only those whose resourceVersion or content changed since it last saw them
        # (name -> (version, the Node object)). The content is compared, not only the version:
        # a forged Node at the next genuine version made every genuine copy of that version
        # look known, so the forged one stayed until the watch moved on (round 9's leftover).
        self._learned: dict[str, tuple[Any, dict[str, Any]]] = {}
        # Callables adding gauges the facade does not know (e.g. cluster fragmentation).
        self.extra_gauges = dict(extra_gauges or {})

    def _changed(self, nodes: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        if nodes is None:
            return None
        learned = self._learned
        fresh = []
        for i, n in enumerate(nodes):
            meta = n["metadata"]
            rv = meta.get("resourceVersion")
            seen = learned.get(meta["name"])
            if not rv or seen is None or seen[0] != rv or seen[1] != n:
                fresh.append(n)
            else:  # equal: hand on the learned object, so NodeBytes' check is an `is`
                nodes[i] = seen[1]
        return fresh

    def _learned_now(self, nodes: list[dict[str, Any]] | None, sent: int) -> None:
        learned = self._learned
        for n in nodes or ():
            rv = n["metadata"].get("resourceVersion")
            if rv:
                learned[n["metadata"]["name"]] = (rv, n)
        if len(learned) > 2 * sent + 1024:  # names no longer sent (or forged): forget them
            learned.clear()

    def filter(
        self, pod: dict[str, Any], node_names: list[str], nodes: list[dict[str, Any]] | None
    ) -> FilterResult:
        fresh = self._changed(nodes)
        r = self.facade.filter(pod, node_names, fresh)
        self._learned_now(fresh, len(node_names))
        return r

    def prioritize(
        self, pod: dict[str, Any], node_names: list[str], nodes: list[dict[str, Any]] | None
    ) -> list[tuple[str, int]]:
        fresh = self._changed(nodes)
        scores = self.facade.prioritize(pod, node_names, fresh)
        self._learned_now(fresh, len(node_names))
        if set(map(type, map(_score, scores))) <= {int}:  # C loops: thousands of hosts
            return scores if isinstance(scores, list) else list(scores)
        return [(h, int(s)) for h, s in scores]  # e.g. numpy integers from a scorer

    def bind(self, args: BindingArgs) -> str:
        return self.facade.bind(args.pod_name, args.pod_namespace, args.pod_uid, args.node)

    def preempt(self, pod: dict[str, Any], victims: Victims) -> dict[str, tuple[list[str], int]]:
        return self.facade.preempt(pod, victims)

    def explain(self, pod_key: str) -> Any:
        try:
            return self.facade.explain(pod_key)
        except ValueError as exc:  # the facade's UnknownPodError: the only refusal explain has
            raise KeyError(str(exc)) from None

    def gauges(self) -> Mapping[str, Mapping[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for name, value in self.facade.gauges().items():
            metric, kind = GAUGE_NAMES.get(name, (f"tessera_{name}", ""))
            out.setdefault(metric, {})[kind] = value
        for metric, source in self.extra_gauges.items():
            out[metric] = dict(source())
        return out
