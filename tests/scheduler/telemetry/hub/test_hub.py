"""Merging sources, staleness, the XID window, the recent-placement cache, the fold."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.policy.model import GpuHealth
from scheduler.telemetry.hub import TelemetryHub
from scheduler.telemetry.hub.recent import RecentPlacements
from scheduler.telemetry.hub.settings import TelemetrySettings
from scheduler.telemetry.hub.staleness import SourceError
from scheduler.telemetry.readings import GpuReading, XidEvent
from tests.scheduler.policy.telemetry_builders import gpu, held, node, state

NOW = 1_000_000.0


class ListSource:
    """A source over fixed readings (the HTTP sources have their own tests); can fail."""

    def __init__(self, name: str, readings: list[GpuReading], max_age_s: float = 120.0) -> None:
        self.name, self.max_age_s, self.readings, self.error = name, max_age_s, readings, ""

    def fetch(self, now: float) -> list[GpuReading]:
        if self.error:
            raise SourceError(self.error)
        return self.readings


def r(node_: str = "a", idx: int = 0, at: float = NOW, **kw) -> GpuReading:
    return GpuReading(node=node_, index=idx, observed_at=at, source="t", **kw)


def test_freshest_load_wins_and_health_is_the_union() -> None:
    prom = ListSource("prom", [r(at=NOW - 30, utilization_pct=90.0, temperature_c=70.0)])
    ann = ListSource("ann", [r(at=NOW - 5, utilization_pct=10.0, remap_failure=True)], 900.0)
    hub = TelemetryHub([prom, ann])
    hub.refresh(NOW)
    health, load = hub.gpu_telemetry(NOW)[("a", 0)]
    assert load is not None and load.utilization_pct == 10.0 and load.observed_at == NOW - 5
    assert health.remap_failure and health.temperature_c == 70.0


def test_stale_reading_is_unknown_not_idle() -> None:
    hub = TelemetryHub([ListSource("p", [r(at=NOW - 121, utilization_pct=0.0)])])
    hub.refresh(NOW)
    assert hub.gpu_telemetry(NOW) == {}


def test_failed_source_keeps_old_data_until_it_ages_out() -> None:
    src = ListSource("p", [r(at=NOW, utilization_pct=50.0)])
    hub = TelemetryHub([src])
    hub.refresh(NOW)
    src.error = "HTTP 500"
    hub.refresh(NOW + 10)
    [status] = hub.statuses()
    assert status.last_error == "HTTP 500" and status.failures == 1
    assert ("a", 0) in hub.gpu_telemetry(NOW + 10)
    assert hub.gpu_telemetry(NOW + 121) == {}


def test_xid_window_outlives_staleness_and_ignores_application_xids() -> None:
    xids = (XidEvent(79, NOW), XidEvent(13, NOW))
    hub = TelemetryHub(
        [ListSource("p", [r(at=NOW, xid_recent=xids)])], TelemetrySettings(xid_window_s=3600.0)
    )
    hub.refresh(NOW)
    assert hub.gpu_telemetry(NOW + 600)[("a", 0)][0].xid_recent == (79,)  # source stale, XID kept
    assert hub.gpu_telemetry(NOW + 3601) == {}


def test_over_temperature_flag_uses_the_setting() -> None:
    hub = TelemetryHub(
        [ListSource("p", [r(temperature_c=88.0)])], TelemetrySettings(max_temperature_c=87.0)
    )
    hub.refresh(NOW)
    assert hub.gpu_telemetry(NOW)[("a", 0)][0].over_temperature


def test_overlay_folds_health_and_load_and_keeps_inventory_faults() -> None:
    st0 = state(node("a", gpu(0, health=GpuHealth(ecc_uncorrectable=1)), gpu(1)), now=NOW)
    hub = TelemetryHub(
        [ListSource("p", [r(idx=1, utilization_pct=42.0, xid_recent=(XidEvent(79, NOW),))])]
    )
    hub.refresh(NOW)
    st1 = hub.overlay(st0)
    g0, g1 = st1.nodes["a"].gpus
    assert g0.health.ecc_uncorrectable == 1  # untouched
    assert g1.health.xid_recent == (79,) and g1.load is not None
    assert g1.load.utilization_pct == 42.0
    assert st1.capacity("a").usable_gpus == []  # GPU 0: ECC (inventory); GPU 1: XID 79 (telemetry)
    assert [g.index for g in st0.capacity("a").usable_gpus] == [1]  # the input is not changed


def test_recent_placement_counts_until_metrics_catch_up() -> None:
    hub = TelemetryHub(
        [ListSource("p", [r(utilization_pct=10.0, at=NOW)])],
        TelemetrySettings(lag_s=90.0, recent_ttl_s=300.0),
    )
    hub.refresh(NOW)
    st0 = state(node("a", gpu(0)), now=NOW)
    hub.overlay(st0)  # first call: existing pods are already in the metrics
    st1 = state(node("a", gpu(0)), allocations={"x": held("x", "a", 0, milli=500)}, now=NOW + 1)
    g = hub.overlay(st1).nodes["a"].gpus[0]
    assert g.load is not None and g.load.utilization_pct == 60.0  # 10 % measured + 50 % placed
    # a reading observed 90 s after the placement includes the pod: no more extra
    hub.sources[0].readings = [r(utilization_pct=55.0, at=NOW + 91)]  # type: ignore[attr-defined]
    hub.refresh(NOW + 91)
    st2 = state(node("a", gpu(0)), allocations={"x": held("x", "a", 0, milli=500)}, now=NOW + 92)
    g = hub.overlay(st2).nodes["a"].gpus[0]
    assert g.load is not None and g.load.utilization_pct == 55.0


def test_recent_rejects_bad_fraction() -> None:
    with pytest.raises(ValueError, match="fraction"):
        RecentPlacements().record("u", "a", 0, 1.5, 0.0)


@given(
    st.lists(st.tuples(st.floats(0.01, 1.0), st.floats(0, 400)), max_size=6),
    st.floats(0, 400),
    st.floats(0, 800),
)
def test_recent_extra_is_bounded_and_expires(
    entries: list[tuple[float, float]], observed: float, now: float
) -> None:
    """Property: extra load is never negative, and zero once every entry is past its TTL."""
    rp = RecentPlacements(lag_s=90.0, ttl_s=300.0)
    for k, (frac, at) in enumerate(entries):
        rp.record(f"u{k}", "a", 0, frac, at)
    extra = rp.extra_pct("a", 0, observed, now)
    assert extra >= 0.0
    assert extra <= 100.0 * sum(f for f, _ in entries) + 1e-9
    if all(now - at >= 300.0 for _, at in entries):
        assert extra == 0.0


def test_overlay_cache_follows_new_readings_and_ageing() -> None:
    from scheduler.policy.model import ClusterState

    src = ListSource("p", [r(utilization_pct=10.0)])
    hub = TelemetryHub([src])
    hub.refresh(NOW)
    st0 = state(node("a", gpu(0)), now=NOW)

    def at(t: float) -> ClusterState:  # same nodes/allocations objects, new instant (as the store)
        return ClusterState(nodes=st0.nodes, allocations=st0.allocations, now=t)

    first = hub.overlay(at(NOW)).nodes["a"].gpus[0]
    assert hub.overlay(at(NOW + 1)).nodes is hub.overlay(at(NOW + 2)).nodes  # cached fold
    src.readings = [r(utilization_pct=70.0, at=NOW + 3)]
    hub.refresh(NOW + 3)
    second = hub.overlay(at(NOW + 3)).nodes["a"].gpus[0]
    assert (first.load.utilization_pct, second.load.utilization_pct) == (10.0, 70.0)  # type: ignore[union-attr]
    assert hub.overlay(at(NOW + 3 + 121)).nodes["a"].gpus[0].load is None  # aged out


@given(
    st.lists(st.tuples(st.integers(0, 3), st.floats(0, 100), st.floats(0, 200)), max_size=8),
    st.floats(0, 300),
)
def test_cached_overlay_equals_a_fresh_fold(
    rows: list[tuple[int, float, float]], dt: float
) -> None:
    """Property: whatever the cache serves equals what a brand-new hub computes."""
    readings = [r(idx=i, utilization_pct=u, at=NOW - age) for i, u, age in rows]
    st0 = state(node("a", *(gpu(i) for i in range(4))), now=NOW + dt)
    warm = TelemetryHub([ListSource("p", readings)])
    warm.refresh(NOW)
    warm.overlay(state(node("a", *(gpu(i) for i in range(4))), now=NOW))  # fill the cache first
    cold = TelemetryHub([ListSource("p", readings)])
    cold.refresh(NOW)
    assert warm.overlay(st0).nodes == cold.overlay(st0).nodes


def test_poller_warms_the_fold() -> None:
    from scheduler.telemetry.hub.service import Poller

    hub = TelemetryHub([ListSource("p", [r(utilization_pct=10.0)])])
    st0 = state(node("a", gpu(0)), now=NOW)
    poller = Poller(hub, interval_s=10.0, clock=lambda: NOW, warm=lambda t: st0).start()
    poller.stop()
    folded = hub.overlay(st0)
    assert folded.nodes["a"].gpus[0].load is not None
    assert hub.overlay(st0) is folded or hub.overlay(st0).nodes is folded.nodes


def test_new_placement_rebuilds_only_its_node() -> None:
    """A bind adds an allocation and a recent placement: only that node's objects change, the
    other nodes keep their folded objects and memoised capacity views."""
    from scheduler.policy.model import ClusterState

    hub = TelemetryHub([ListSource("p", [r(node_=n, utilization_pct=10.0) for n in "abc"])])
    hub.refresh(NOW)
    raw = state(node("a", gpu(0)), node("b", gpu(0)), node("c", gpu(0)), now=NOW)
    s1 = hub.overlay(raw)
    for n in "abc":
        s1.capacity(n)
    allocs = {"x": held("x", "b", 0, milli=500)}
    s2 = hub.overlay(ClusterState(nodes=raw.nodes, allocations=allocs, now=NOW + 1))
    assert s2.nodes["a"] is s1.nodes["a"] and s2.nodes["c"] is s1.nodes["c"]
    assert s2.nodes["b"] is not s1.nodes["b"]
    assert s2.nodes["b"].gpus[0].load.utilization_pct == 60.0  # type: ignore[union-attr]
    assert set(s2._capacity) == {"a", "c"}  # b's view is rebuilt with the new allocation
    assert s2.capacity("b").gpus[0].free_milli == 500


def test_hub_without_sources_flags_hot_annotation_temperatures() -> None:
    hub = TelemetryHub([], TelemetrySettings(max_temperature_c=85.0))
    st0 = state(node("a", gpu(0, health=GpuHealth(temperature_c=86.0)), gpu(1)), now=NOW)
    g0, g1 = hub.overlay(st0).nodes["a"].gpus
    assert g0.health.over_temperature and not g1.health.over_temperature
    cool = state(node("a", gpu(0, health=GpuHealth(temperature_c=84.0))), now=NOW)
    assert hub.overlay(cool) is cool  # nothing to fold: the caller's snapshot comes back
