"""Prometheus metrics of the extender, on a registry of its own (one per app, so tests can build
several apps in one process).

Label values are bounded: verbs are the fixed route names, failure reasons are the policy plugin
name that rejected the node (the text before the first ':'), never free text.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

# Sub-millisecond resolution where the p99 < 2 ms goal lives, up to kube-scheduler's 5 s timeout.
LATENCY_BUCKETS = (
    0.00025, 0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.0,
    2.0, 5.0,
)  # fmt: skip

# Live gauges read at scrape time: metric name -> {"kind" label value ("" = none): number}.
GaugeSource = Callable[[], Mapping[str, Mapping[str, float]]]

GAUGE_HELP = {
    "tessera_reservations": "Placements held by pods: reserved (decided, not yet bound) and bound.",
    "tessera_gang_plans": "Gang plans currently held.",
    "tessera_cluster_fragmentation": "Cluster fragmentation by GPU kind (from packing).",
    "tessera_nodes": "Nodes in the cluster state.",
    "tessera_telemetry_source_up": "1 if the telemetry source (kind) answered within its max age.",
    "tessera_telemetry_source_age_seconds": "Seconds since the telemetry source (kind) answered.",
    "tessera_watch_age_seconds": "Seconds since the watch of this kind last made progress.",
}
COUNTER_HELP = {
    "tessera_watch_errors": "Watch events or loop passes that raised, by kind (object skipped).",
    "tessera_rejected_annotations": "Annotations ignored at rebuild (malformed, too deep, forged).",
}


class ExtenderMetrics:
    def __init__(
        self, gauges: GaugeSource | None = None, counters: GaugeSource | None = None
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.latency = Histogram(
            "tessera_extender_request_duration_seconds",
            "Time to answer one extender request, by verb.",
            ["verb"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.requests = Counter(
            "tessera_extender_requests",
            "Extender requests answered, by verb and HTTP status code.",
            ["verb", "code"],
            registry=r,
        )
        self.rejected = Counter(
            "tessera_extender_rejected_requests",
            "Requests refused before scheduling (bad JSON, too large, unauthorized...), by reason.",
            ["verb", "reason"],
            registry=r,
        )
        self.decisions = Counter(
            "tessera_filter_decisions",
            "Per-node filter outcomes: passed, failed (preemption may help) or unresolvable.",
            ["result"],
            registry=r,
        )
        self.failures = Counter(
            "tessera_filter_failures",
            "Nodes rejected by filter, by the policy plugin that rejected them.",
            ["reason"],
            registry=r,
        )
        self.binds = Counter(
            "tessera_binds", "Bind outcomes: bound or error.", ["result"], registry=r
        )
        self.gangs = Counter(
            "tessera_gang_outcomes",
            "Gang filter outcomes seen at the edge: planned, steered or failed.",
            ["outcome"],
            registry=r,
        )
        if gauges:
            r.register(_LiveGauges(gauges))
        if counters:
            r.register(_LiveCounters(counters))

    def observe_filter(
        self,
        failed: Mapping[str, str],
        unresolvable: Mapping[str, str],
        passed: int,
        chosen_away: Mapping[str, str] | None = None,
    ) -> None:
        """`chosen_away` (choose_in_filter's other feasible nodes, left out of the reply)
        counts as failed, under its own reason label, as when it was sent."""
        chosen_away = chosen_away or {}
        self.decisions.labels("passed").inc(passed)
        if failed or chosen_away:
            self.decisions.labels("failed").inc(len(failed) + len(chosen_away))
        if unresolvable:
            self.decisions.labels("unresolvable").inc(len(unresolvable))
        # Many nodes share one reason text: count texts (C speed), then label each text once.
        texts = collections.Counter(failed.values())
        texts.update(unresolvable.values())
        texts.update(chosen_away.values())
        counts: dict[str, int] = {}
        for text, n in texts.items():
            key = reason_label(text)
            counts[key] = counts.get(key, 0) + n
        for key, n in counts.items():
            self.failures.labels(key).inc(n)


def reason_label(text: str) -> str:
    """A bounded label from a policy reason: the plugin name before ':' ("fit: 1 of 2 GPUs free"
    -> "fit"); anything else -> "other"."""
    head, sep, _ = text.partition(":")
    head = head.strip()
    if sep and head and len(head) <= 40 and head.replace("_", "").replace("-", "").isalnum():
        return head
    return "other"


class _LiveGauges(Collector):
    """Gauges read from the cluster store at scrape time (reservations, fragmentation)."""

    def __init__(self, source: GaugeSource) -> None:
        self._source = source

    def describe(self) -> list[GaugeMetricFamily]:
        return []  # names are only known at scrape time

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for name, values in sorted(self._source().items()):
            labelled = any(k for k in values)
            family = GaugeMetricFamily(
                name, GAUGE_HELP.get(name, name), labels=["kind"] if labelled else []
            )
            for kind, value in sorted(values.items()):
                family.add_metric([kind] if labelled else [], float(value))
            yield family


class _LiveCounters(Collector):
    """Counters kept by other layers (watch errors, rejected annotations), read at scrape time;
    each source only ever grows, so they are exported as counters (`..._total`)."""

    def __init__(self, source: GaugeSource) -> None:
        self._source = source

    def describe(self) -> list[CounterMetricFamily]:
        return []

    def collect(self) -> Iterator[CounterMetricFamily]:
        for name, values in sorted(self._source().items()):
            labelled = any(k for k in values)
            family = CounterMetricFamily(
                name, COUNTER_HELP.get(name, name), labels=["kind"] if labelled else []
            )
            for kind, value in sorted(values.items()):
                family.add_metric([kind] if labelled else [], float(value))
            yield family
