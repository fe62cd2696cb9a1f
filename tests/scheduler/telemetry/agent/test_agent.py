"""Agent loop, /metrics exposition, annotation writer and the rate-limited publisher."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.telemetry import annotation
from scheduler.telemetry.agent import Agent
from scheduler.telemetry.agent.backend import NvmlUnavailable
from scheduler.telemetry.agent.nvml_replay import ReplayBackend
from scheduler.telemetry.agent.publisher import AnnotationPublisher, PatchError
from scheduler.telemetry.hub.textparse import parse
from scheduler.telemetry.readings import DeviceSample, NodeSample, XidEvent
from tests.scheduler.telemetry.conftest import H100_DIR, H100_UUID


class Clock:
    def __init__(self, t: float = 1_800_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class RecordingPatcher:
    """FAKE apiserver for unit tests: records patches, fails on demand."""

    def __init__(self) -> None:
        self.patches: list[tuple[str, str, str]] = []
        self.fail = False

    def patch_annotation(self, node: str, key: str, value: str) -> None:
        if self.fail:
            raise PatchError("HTTP 503 from apiserver")
        self.patches.append((node, key, value))


class DeadBackend:
    """A backend whose NVML never initialises (driver absent)."""

    name = "dead"

    def __init__(self) -> None:
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        raise NvmlUnavailable("NVML init failed (NVMLError_LibraryNotFound: not found)")

    def sample(self, now: float) -> NodeSample:
        raise AssertionError("never sampled")

    def close(self) -> None:
        pass


def test_metrics_endpoint_serves_conventional_names_over_http() -> None:
    agent = Agent("node-a", ReplayBackend(H100_DIR, offset_s=10.0, hold=True))
    agent.tick()
    server = agent.serve(0, "127.0.0.1")
    try:
        text = httpx.get(f"http://127.0.0.1:{server.server_port}/metrics").text
    finally:
        server.shutdown()
    by_name = {s.name: s for s in parse(text).samples}
    util = by_name["tessera_gpu_utilization_ratio"]
    assert util.labels == {
        "node": "node-a",
        "gpu": "0",
        "uuid": H100_UUID,
        "model": "NVIDIA H100 80GB HBM3",
    }
    assert util.value == 1.0  # 100 % in the recorded matmul steady state
    assert by_name["tessera_gpu_memory_used_bytes"].value == 1_563_230_208
    assert by_name["tessera_gpu_sm_clock_hertz"].value % 1e6 == 0
    assert by_name["tessera_agent_nvml_up"].value == 1.0
    assert by_name["tessera_gpu_xid_recent_events"].value == 0.0


def test_unsupported_field_has_no_series() -> None:
    from scheduler.telemetry.agent.exposition import AgentCollector, make_registry

    col = AgentCollector("n")
    col.update(NodeSample(1.0, (DeviceSample(0, "U", "M", utilization_pct=None),)), True)
    from prometheus_client import generate_latest

    names = {s.name for s in parse(generate_latest(make_registry(col)).decode()).samples}
    assert "tessera_gpu_info" in names and "tessera_gpu_utilization_ratio" not in names


def test_absent_nvml_never_crashes_and_backs_off(caplog: pytest.LogCaptureFixture) -> None:
    clock, backend = Clock(), DeadBackend()
    agent = Agent("n", backend, interval_s=5.0, clock=clock, max_backoff_s=40.0)
    with caplog.at_level(logging.WARNING):
        for _ in range(60):  # 60 ticks 5 s apart = 300 s
            assert agent.tick() is None
            clock.t += 5.0
    # retries at 0, 5, 15, 35, 75, 115, ... (backoff 5, 10, 20, 40, 40 ...): far fewer than 60
    assert 5 <= backend.starts <= 10
    assert sum("GPU telemetry unavailable" in m for m in caplog.messages) == 1
    up = [s for s in parse(_metrics(agent)).samples if s.name == "tessera_agent_nvml_up"]
    assert up[0].value == 0.0


def _metrics(agent: Agent) -> str:
    from prometheus_client import generate_latest

    return generate_latest(agent.registry).decode()


def _sample(temp: float = 53.0, util: float = 0.0, xids: tuple[int, ...] = ()) -> NodeSample:
    d = DeviceSample(
        0,
        H100_UUID,
        "NVIDIA H100 80GB HBM3",
        memory_total_bytes=85520809984,
        memory_used_bytes=503316480,
        utilization_pct=util,
        temperature_c=temp,
        power_w=84.387,
        ecc_uncorrectable_volatile=0,
        remap_failure=False,
        mig_enabled=False,
    )
    return NodeSample(1_800_000_000.0, (d,), tuple(XidEvent(x, 1.0, H100_UUID) for x in xids))


def test_publisher_patches_only_on_change_and_rate_limits() -> None:
    p = RecordingPatcher()
    pub = AnnotationPublisher("n", p, min_interval_s=30.0, heartbeat_s=300.0)
    assert pub.offer(_sample(), 0.0)  # first: always
    assert not pub.offer(_sample(util=100.0), 10.0)  # load changed only: no patch
    assert not pub.offer(_sample(xids=(79,)), 20.0)  # health changed but 20 s < 30 s
    assert pub.offer(_sample(xids=(79,)), 31.0)  # due now: one patch for the coalesced change
    assert not pub.offer(_sample(xids=(79,)), 200.0)  # unchanged
    assert pub.offer(_sample(xids=(79,)), 331.0)  # heartbeat: 331 - 31 = 300 s
    assert len(p.patches) == 3
    doc = json.loads(p.patches[1][2])
    assert doc["gpus"][0]["health"]["xid_recent"] == [79]


def test_publisher_failure_is_logged_once_and_retried(caplog: pytest.LogCaptureFixture) -> None:
    p = RecordingPatcher()
    p.fail = True
    pub = AnnotationPublisher("n", p)
    with caplog.at_level(logging.WARNING):
        assert not pub.offer(_sample(), 0.0)
        assert not pub.offer(_sample(), 5.0)
    assert sum("failed" in m for m in caplog.messages) == 1
    p.fail = False
    assert pub.offer(_sample(), 6.0)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("{not json", "not JSON"),
        ('{"version": 2, "updated": "2026-11-26T18:00:00Z", "gpus": []}', "version 2"),
        ('{"version": 1, "updated": "yesterday", "gpus": []}', "updated"),
        ('{"version": 1, "updated": "2026-11-26T18:00:00Z", "gpus": [{"index": 0}]}', "health"),
        (
            '{"version": 1, "updated": "2026-11-26T18:00:00Z", "gpus": [{"index": true, '
            '"uuid": "U", "health": {"xid_recent": []}}]}',
            "index",
        ),
        (
            '{"version": 1, "updated": "2026-11-26T18:00:00Z", "gpus": [{"index": 0, "uuid": "U", '
            '"health": {"xid_recent": [], "temperature_c": -4}}]}',
            "temperature_c",
        ),
        (
            '{"version": 1, "updated": "2026-11-26T18:00:00Z", "gpus": [{"index": 0, "uuid": "U", '
            '"health": {"xid_recent": ["79"]}}]}',
            "xid_recent",
        ),
        (
            '{"version": 1, "updated": "2026-11-26T18:00:00Z", "gpus": [{"index": 0, "uuid": "U", '
            '"health": {"xid_recent": []}, "load": {"utilization_pct": NaN}}]}',
            "malformed JSON",  # NaN is not JSON (the one strict decoder, scheduler.safejson)
        ),
        (
            '{"version": 1, "updated": "2026-11-26T18:00:00Z", "gpus": [{"index": 0, "uuid": "U", '
            '"health": {"xid_recent": []}, "load": {"utilization_pct": -1}}]}',
            "utilization_pct",
        ),
    ],
)
def test_garbage_annotation_is_rejected_naming_the_field(text: str, needle: str) -> None:
    with pytest.raises(annotation.AnnotationError, match=needle):
        annotation.decode("n", text)


def test_application_xids_are_not_published() -> None:
    doc = annotation.to_document(_sample(xids=(13, 79, 43)))
    assert doc["gpus"][0]["health"]["xid_recent"] == [79]


@given(st.floats(0, 120), st.floats(0, 100), st.lists(st.sampled_from([48, 79, 94]), max_size=3))
def test_annotation_round_trip(temp: float, util: float, xids: list[int]) -> None:
    """Property: what the agent writes, the extender reads back (to whole units)."""
    s = _sample(temp=temp, util=util, xids=tuple(xids))
    [r] = annotation.decode("n", annotation.encode(s))
    assert r.temperature_c == round(temp) and r.utilization_pct == round(util)
    assert sorted(x.xid for x in r.xid_recent) == sorted(xids)
    assert r.memory_total_mib == 81559 and r.uuid == H100_UUID


@given(st.floats(0, 100), st.floats(0, 100))
def test_fingerprint_ignores_load(u1: float, u2: float) -> None:
    """Property: load alone never changes the fingerprint (no apiserver patch)."""
    fp = [annotation.fingerprint(annotation.to_document(_sample(util=u))) for u in (u1, u2)]
    assert fp[0] == fp[1]
    hot = annotation.fingerprint(annotation.to_document(_sample(temp=95.0)))
    assert hot != fp[0]
