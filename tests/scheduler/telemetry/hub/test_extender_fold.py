"""The Extender with the hub's overlay: an unhealthy GPU is never reserved, reasons reach
kube-scheduler, and a source going quiet never blocks scheduling."""

from __future__ import annotations

from scheduler.state.extender import Extender
from scheduler.state.store import ClusterStore
from scheduler.telemetry.hub import TelemetryHub
from scheduler.telemetry.hub.service import Poller, build_hub
from scheduler.telemetry.hub.settings import TelemetrySettings
from scheduler.telemetry.readings import GpuReading, XidEvent
from tests.builders import event, gpu_json, node_json, pod_json
from tests.scheduler.telemetry.hub.test_hub import ListSource

NOW = 1_000_000.0


def _ext(readings: list[GpuReading]) -> tuple[Extender, TelemetryHub]:
    hub = TelemetryHub([ListSource("prom", readings)])
    hub.refresh(NOW)
    ext = Extender(ClusterStore(), None, clock=lambda: NOW, telemetry=hub.overlay)
    ext.store.apply(event(node_json("a", [gpu_json(0), gpu_json(1)])))
    return ext, hub


def test_gpu_with_xid_is_never_reserved() -> None:
    xid = GpuReading("a", 0, NOW, "prom", xid_recent=(XidEvent(79, NOW),))
    ext, _ = _ext([xid])
    r = ext.filter(pod_json("p", {"nvidia.com/gpu": 1}), ["a"])
    assert r.passed == ["a"] and r.reserved is not None
    assert [g.index for g in r.reserved.gpus] == [1]  # GPU 0 has XID 79
    r2 = ext.filter(pod_json("q", {"nvidia.com/gpu": 2}), ["a"])
    assert "XID 79" in r2.unresolvable["a"]


def test_without_telemetry_both_gpus_serve() -> None:
    ext, _ = _ext([])
    r = ext.filter(pod_json("q", {"nvidia.com/gpu": 2}), ["a"])
    assert r.passed == ["a"]


def test_build_hub_and_poller() -> None:
    assert build_hub(TelemetrySettings()).sources == []  # no source: allocation-only load
    hub = build_hub(TelemetrySettings(), nodes=lambda: [("a", {})])
    assert hub is not None and [s.name for s in hub.sources] == ["annotation"]
    poller = Poller(hub, interval_s=0.05, clock=lambda: NOW).start()
    poller.stop()
    [status] = hub.statuses()
    assert status.last_ok_at == NOW


def test_thresholds_from_service_settings_reach_the_plugins() -> None:
    import pytest

    from scheduler.policy.registry import build_profile, default_profile
    from scheduler.telemetry.hub.service import plugin_args

    ts = TelemetrySettings.from_thresholds({"temperature_c": 80, "max_age_s": 30})
    assert (ts.max_temperature_c, ts.max_age_s) == (80.0, 30.0)
    prof = build_profile(args=plugin_args(ts))
    [health] = [f for f in prof.filters if f.name == "GpuHealth"]
    [load] = [s for s, _ in prof.scorers if s.name == "GpuLoad"]
    assert health.thresholds.max_temperature_c == 80.0  # type: ignore[attr-defined]
    assert load.settings.max_age_s == 30.0  # type: ignore[attr-defined]
    assert [f.name for f in prof.filters] == [f.name for f in default_profile().filters]
    with pytest.raises(ValueError, match="thresholds.bogus: unknown"):
        TelemetrySettings.from_thresholds({"bogus": 1})
    with pytest.raises(ValueError, match="must be a finite number > 0"):
        TelemetrySettings.from_thresholds({"max_age_s": -1})


def test_source_gauges_for_the_extender_metrics() -> None:
    from scheduler.api.adapter import FacadePort
    from scheduler.telemetry.hub.service import telemetry_gauges

    src = ListSource("prom", [])
    hub = TelemetryHub([src])
    hub.refresh(NOW)
    src.error = "HTTP 500"
    hub.refresh(NOW + 10)
    ext = Extender(ClusterStore(), None, clock=lambda: NOW + 30, telemetry=hub)
    gauges = FacadePort(ext, telemetry_gauges(ext.telemetry, clock=lambda: NOW + 30)).gauges()
    assert gauges["tessera_telemetry_source_up"] == {"prom": 0.0}  # its last call failed
    assert gauges["tessera_telemetry_source_age_seconds"] == {"prom": 30.0}
    assert telemetry_gauges(None) == {}


def test_gang_plan_avoids_a_gpu_known_faulty_only_from_telemetry() -> None:
    # 2 members x 1 GPU. Node a has 2 GPUs, GPU 0 with XID 79 seen only by Prometheus; node b 1.
    gang = {"scheduling.x-k8s.io/pod-group": "train"}
    mins = {"tessera.io/gang-min-member": "2"}
    xid = GpuReading("a", 0, NOW, "prom", xid_recent=(XidEvent(79, NOW),))
    hub = TelemetryHub([ListSource("prom", [xid])])
    hub.refresh(NOW)
    ext = Extender(ClusterStore(), None, clock=lambda: NOW, telemetry=hub)
    ext.store.apply(event(node_json("a", [gpu_json(0), gpu_json(1)])))
    ext.store.apply(event(node_json("b", [gpu_json(0)])))
    members = [pod_json(f"w{i}", {"nvidia.com/gpu": 1}, labels=gang, annotations=mins)
               for i in range(2)]  # fmt: skip
    for m in members:
        ext.store.apply(event(m))
    r = ext.filter(members[0], ["a", "b"])
    assert r.gang_outcome == "planned"
    plan = ext.store.ledger.gang("default/train", NOW)
    assert plan is not None
    slots = sorted((s.node, g.index) for s in plan.slots for g in s.gpus)
    assert slots == [("a", 1), ("b", 0)]  # never ("a", 0)
