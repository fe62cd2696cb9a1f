"""What the HTTP edge needs from the scheduling core, in the edge's own plain types.

`scheduler.api.adapter.FacadePort` implements this over `scheduler.state.extender`
facade; unit tests of the wire layer may implement it with a fake (and say so). The edge never
decides anything itself: it decodes, calls the port, encodes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from scheduler.api.wire import BindingArgs
from scheduler.policy.results import FilterResult

# node name -> (victim pod UIDs, NumPDBViolations)
Victims = Mapping[str, tuple[Sequence[str], int]]


class ExtenderPort(Protocol):
    def filter(
        self, pod: dict[str, Any], node_names: list[str], nodes: list[dict[str, Any]] | None
    ) -> FilterResult:
        """`nodes` carries the full Node objects in nodeCacheCapable: false mode. The answer is
        the policy core's own `FilterResult` (one type from the core to the wire)."""
        ...

    def prioritize(
        self, pod: dict[str, Any], node_names: list[str], nodes: list[dict[str, Any]] | None
    ) -> list[tuple[str, int]]: ...

    def bind(self, args: BindingArgs) -> str:
        """Create the Binding and record the placement; '' on success, else a one-line error."""
        ...

    def preempt(
        self, pod: dict[str, Any], victims: Victims
    ) -> dict[str, tuple[list[str], int]]: ...

    def explain(self, pod_key: str) -> Any:
        """A JSON-serialisable explanation; raises KeyError when the pod is unknown."""
        ...

    def gauges(self) -> Mapping[str, Mapping[str, float]]:
        """Live gauge values by metric name (reservations, fragmentation...), read at scrape."""
        ...
