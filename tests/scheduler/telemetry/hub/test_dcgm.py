"""DCGM/agent samples -> per-GPU readings: MIG quirks, host labels, bad values."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.telemetry.hub.dcgm import readings
from scheduler.telemetry.hub.textparse import Sample, parse
from tests.scheduler.telemetry.conftest import A800_HOST, DCGM_MISC


def _read(text: str, t: float = 100.0):
    return {(r.node, r.index): r for r in readings([(s, t) for s in parse(text).samples], "x")}


def test_real_a800_mig_gpu_is_not_double_counted(dcgm_text: str) -> None:
    r = _read(dcgm_text)
    assert len(r) == 8
    gpu0 = r[(A800_HOST, 0)]
    # power repeats per GI (78.174, 78.174, 78.446 W): one value taken, never the 234.794 sum
    assert gpu0.power_w == pytest.approx(78.174)
    assert gpu0.temperature_c == 33.0  # repeated 3 times, read once
    # FB_USED is per GI (10 MiB x 3 GIs) and FB_FREE 19957 x 3: summed
    assert gpu0.memory_used_mib == 30.0
    assert gpu0.memory_total_mib == 30.0 + 3 * 19957
    # no GPU_UTIL on the MIG GPU: GR_ENGINE_ACTIVE per GI (all 0.000000) stands in
    assert gpu0.utilization_pct == 0.0
    assert gpu0.uuid == "GPU-1f027ee8-6e1e-2b8c-0108-3d370e5f0418"
    gpu1 = r[(A800_HOST, 1)]
    assert (gpu1.utilization_pct, gpu1.memory_used_mib, gpu1.remap_failure) == (0.0, 2.0, False)
    assert all(x.xid_recent == () for x in r.values())  # XID_ERRORS 0 everywhere: none


def test_mig_utilisation_weighted_by_compute_slices() -> None:
    # two 2g.20gb GIs at 50 % and 100 % on a 7-slice GPU: (0.5*2 + 1.0*2) / 7 = 42.857 %
    text = "\n".join(
        f'DCGM_FI_PROF_GR_ENGINE_ACTIVE{{gpu="0",GPU_I_PROFILE="2g.20gb",GPU_I_ID="{gi}",'
        f'Hostname="h",modelName="NVIDIA A100-SXM4-80GB"}} {v}'
        for gi, v in ((3, 0.5), (5, 1.0))
    )
    assert _read(text)[("h", 0)].utilization_pct == pytest.approx(300 / 7)


def test_unknown_mig_profile_is_logged_once_and_ignored(caplog: pytest.LogCaptureFixture) -> None:
    text = (
        'DCGM_FI_PROF_GR_ENGINE_ACTIVE{gpu="0",GPU_I_PROFILE="weird",GPU_I_ID="1",'
        'Hostname="h9"} 0.9\n'
    )
    with caplog.at_level(logging.WARNING):
        r1 = _read(text)
        r2 = _read(text)
    assert r1[("h9", 0)].utilization_pct is None and r2[("h9", 0)].utilization_pct is None
    assert sum("unknown MIG profile 'weird'" in m for m in caplog.messages) == 1


@pytest.mark.parametrize(
    ("host_label", "value"),
    [("Hostname", "a"), ("hostname", "b"), ("node", "c")],
)
def test_host_label_spellings(host_label: str, value: str) -> None:
    r = _read(f'DCGM_FI_DEV_GPU_UTIL{{gpu="2",{host_label}="{value}"}} 37')
    assert r[(value, 2)].utilization_pct == 37.0


@pytest.mark.parametrize(
    ("raw", "kept"),
    [("NaN", None), ("-5", None), ("+Inf", None), ("9223372036854775794", None), ("55", 55.0)],
)
def test_bad_values_are_unknown(raw: str, kept: float | None) -> None:
    r = _read(
        f'DCGM_FI_DEV_GPU_TEMP{{gpu="0",Hostname="h"}} {raw}\n'
        'DCGM_FI_DEV_GPU_UTIL{gpu="0",Hostname="h"} 1'
    )
    assert r[("h", 0)].temperature_c == kept


def test_series_without_host_is_skipped() -> None:
    # the README quickstart lines carry no Hostname: nothing to attach them to
    assert _read(DCGM_MISC.read_text().split("# SOURCE: NVIDIA/dcgm-exporter internal")[0]) == {}


def test_xid_and_agent_names() -> None:
    text = (
        'DCGM_FI_DEV_XID_ERRORS{gpu="1",Hostname="h"} 79\n'
        'tessera_gpu_utilization_ratio{node="n",gpu="0",uuid="U"} 0.25\n'
        'tessera_gpu_memory_used_bytes{node="n",gpu="0",uuid="U"} 1562378240\n'
    )
    r = _read(text)
    assert [x.xid for x in r[("h", 1)].xid_recent] == [79]
    assert r[("n", 0)].utilization_pct == 25.0
    assert r[("n", 0)].memory_used_mib == pytest.approx(1490.0)  # 1,562,378,240 B / 2**20
    assert r[("n", 0)].uuid == "U"


@given(st.integers(1, 7), st.floats(1, 700))
def test_device_value_repeated_per_instance_is_read_once(instances: int, watts: float) -> None:
    """Property: repeating a device-level sample on N GI series never changes the reading."""
    samples = [
        (
            Sample(
                "DCGM_FI_DEV_POWER_USAGE",
                {"gpu": "0", "Hostname": "h", "GPU_I_ID": str(i), "GPU_I_PROFILE": "1g.10gb"},
                watts,
            ),
            1.0,
        )
        for i in range(instances)
    ]
    [r] = readings(samples, "x")
    assert r.power_w == watts


def test_critical_xid_is_not_hidden_by_a_later_application_xid() -> None:
    # XID 79 then XID 13: the "last XID" gauge says 13 (ignored), the per-code series keep 79.
    from scheduler.telemetry.agent.exposition import AgentCollector, make_registry
    from scheduler.telemetry.readings import DeviceSample, NodeSample, XidEvent

    col = AgentCollector("n")
    col.update(
        NodeSample(
            5.0, (DeviceSample(0, "U", "M"),), (XidEvent(79, 1.0, "U"), XidEvent(13, 2.0, "U"))
        ),
        True,
    )
    from prometheus_client import generate_latest

    r = _read(generate_latest(make_registry(col)).decode())
    assert sorted(x.xid for x in r[("n", 0)].xid_recent) == [13, 79]
