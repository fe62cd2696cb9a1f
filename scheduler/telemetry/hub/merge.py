"""Pure merge of source readings into per-GPU health and load at one instant.

Per (node, gpu index), only readings no older than their source's maximum age (and not from
the future, `FUTURE_SKEW_S`) count: the freshest load wins; health is the union (any source's
fault counts). XIDs stay for `xid_window_s` after they were seen even if their source has since
gone quiet. Also returns
`valid_until`: the first instant at which the answer could change by ageing alone, so callers
can reuse it until then (or until new readings arrive).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from scheduler.policy.model import GpuHealth, GpuLoad
from scheduler.policy.rules import FUTURE_SKEW_S
from scheduler.telemetry.hub.settings import TelemetrySettings
from scheduler.telemetry.readings import GpuReading

Key = tuple[str, int]
# FUTURE_SKEW_S (the policy's own bound on a node annotation's stamp): a reading stamped later
# than now by more than it is refused. A reading from the future (an exporter's timestamp of +Inf
# or year 3000) would otherwise stay fresh for ever and, being the newest, hide every correct one.
Telemetry = dict[Key, tuple[GpuHealth, GpuLoad | None]]


def merge(
    items: Iterable[tuple[str, GpuReading]],
    ages: Mapping[str, float],
    s: TelemetrySettings,
    now: float,
) -> tuple[Telemetry, float]:
    fresh: dict[Key, list[GpuReading]] = {}
    xids: dict[Key, set[int]] = {}
    until = math.inf
    for name, r in items:
        key = (r.node, r.index)
        if not r.observed_at <= now + FUTURE_SKEW_S:  # from the future (or NaN): not a reading
            continue
        for x in r.xid_recent:
            if x.xid in s.ignored_xids or not x.at <= now + FUTURE_SKEW_S:
                continue
            ends = x.at + s.xid_window_s
            if now <= ends:
                xids.setdefault(key, set()).add(x.xid)
                until = min(until, ends)
        ends = r.observed_at + ages.get(name, s.max_age_s)
        if now <= ends:
            fresh.setdefault(key, []).append(r)
            until = min(until, ends)
    out: Telemetry = {}
    for key in fresh.keys() | xids.keys():
        rs = sorted(fresh.get(key, ()), key=lambda r: r.observed_at, reverse=True)
        temp = next((r.temperature_c for r in rs if r.temperature_c is not None), None)
        health = GpuHealth(
            xid_recent=tuple(sorted(xids.get(key, ()))),
            ecc_uncorrectable=max((r.ecc_uncorrectable or 0 for r in rs), default=0),
            remap_failure=any(bool(r.remap_failure) for r in rs),
            temperature_c=temp,
            over_temperature=temp is not None and temp >= s.max_temperature_c,
        )
        out[key] = (health, _load(rs))
    return out, until


def _load(rs: list[GpuReading]) -> GpuLoad | None:
    """The freshest reading that says anything about load."""
    for r in rs:
        if r.utilization_pct is not None or r.memory_used_mib is not None:
            return GpuLoad(
                utilization_pct=r.utilization_pct,
                memory_used_mib=None if r.memory_used_mib is None else int(r.memory_used_mib),
                power_w=r.power_w,
                observed_at=r.observed_at,
            )
    return None
