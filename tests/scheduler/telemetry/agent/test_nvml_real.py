"""The real pynvml backend: absent NVML is a clear error; unsupported fields become None.

On this CI machine NVML is really absent, so the first test exercises the real library path.
The others use a FAKE `pynvml` module (unit-test only, said here) built from the real capture:
fields the H100 refused in `nvml_snapshot_h100.json` raise NVMLError_NotSupported.
"""

from __future__ import annotations

import ctypes
import logging
import sys
import types
from typing import Any

import pytest

from scheduler.telemetry.agent import mig_adapter
from scheduler.telemetry.agent.backend import NvmlUnavailable
from scheduler.telemetry.agent.nvml_real import PynvmlBackend
from scheduler.telemetry.readings import NodeSample
from tests.scheduler.telemetry.conftest import H100_DIR, H100_UUID, nvml_present


@pytest.mark.skipif(nvml_present(), reason="NVML present: the absent-library path cannot be shown")
def test_absent_nvml_raises_one_clear_line() -> None:
    with pytest.raises(NvmlUnavailable, match=r"NVML init failed \(NVMLError_"):
        PynvmlBackend().start()


def _fake_pynvml() -> types.ModuleType:
    """FAKE for this unit test: the real pynvml error classes, H100-capture return values."""
    import pynvml

    m = types.ModuleType("pynvml")
    for name in dir(pynvml):
        if name.startswith(("NVMLError", "NVML_", "nvmlEventType", "c_nvml")):
            setattr(m, name, getattr(pynvml, name))

    def unsupported(*_a: Any) -> Any:
        raise pynvml.NVMLError_NotSupported()

    mem = types.SimpleNamespace(total=85520809984, free=85017493504, used=503316480)
    calls = {
        "nvmlInit": lambda: None,
        "nvmlShutdown": lambda: None,
        "nvmlDeviceGetCount": lambda: 1,
        "nvmlSystemGetDriverVersion": lambda: "580.159.04",
        "nvmlDeviceGetHandleByIndex": lambda i: object(),
        "nvmlDeviceGetUUID": lambda h: H100_UUID,
        "nvmlDeviceGetName": lambda h: "NVIDIA H100 80GB HBM3",
        "nvmlDeviceGetMemoryInfo": lambda h: mem,
        # MIG-mode behaviour from nvml.h: device utilisation is NotSupported
        "nvmlDeviceGetUtilizationRates": unsupported,
        "nvmlDeviceGetTemperature": lambda h, s: 53,
        "nvmlDeviceGetPowerUsage": lambda h: 84387,
        "nvmlDeviceGetEnforcedPowerLimit": lambda h: 700000,
        "nvmlDeviceGetClockInfo": lambda h, c: 345,
        "nvmlDeviceGetTotalEccErrors": lambda h, e, c: 0,
        "nvmlDeviceGetRemappedRows": unsupported,
        "nvmlDeviceGetMigMode": lambda h: [0, 0],
        "nvmlDeviceGetComputeRunningProcesses": lambda h: [],
        "nvmlEventSetCreate": unsupported,
    }
    for k, v in calls.items():
        setattr(m, k, v)
    return m


def test_unsupported_fields_are_none_and_logged_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", _fake_pynvml())
    b = PynvmlBackend()
    b.start()
    with caplog.at_level(logging.WARNING):
        d1 = b.sample(1.0).devices[0]
        d2 = b.sample(2.0).devices[0]
    b.close()
    assert d1 == d2
    assert (d1.utilization_pct, d1.remap_failure, d1.remap_pending) == (None, None, None)
    assert d1.power_w == pytest.approx(84.387) and d1.memory_used_bytes == 503316480
    assert d1.mig_enabled is False and d1.mig_instances == ()
    assert sum("utilization" in m for m in caplog.messages) == 1  # once, not per sweep


class _Placement(ctypes.Structure):
    _fields_ = [("start", ctypes.c_uint), ("size", ctypes.c_uint)]


def _lgipp() -> dict[int, tuple[list[int], int]]:
    """Profile id -> (starts, size) from the recorded `nvidia-smi mig -lgipp` of the H100."""
    import re

    out = {}
    for line in (H100_DIR / "nvidia-smi-mig-lgipp.txt").read_text().splitlines():
        m = re.search(r"Profile ID\s+(\d+) Placements?\s*:\s*\{([\d,]+)\}:(\d+)", line)
        if m:
            out[int(m.group(1))] = ([int(x) for x in m.group(2).split(",")], int(m.group(3)))
    return out


def test_driver_placements_reach_the_annotation(monkeypatch: pytest.MonkeyPatch) -> None:
    """FAKE pynvml answering profile info from the recorded snapshot and placements from the
    recorded `-lgipp`, through the 4-argument wrapper: the agent reports the H100's geometry."""
    import json as _json

    import pynvml

    from scheduler.telemetry import annotation

    snap = _json.loads((H100_DIR / "nvml_snapshot_h100.json").read_text())
    infos = {p["id"]: p["info"] for p in snap["devices"][0]["profiles"].values()}
    lgipp = _lgipp()
    fake = _fake_pynvml()

    def profile_info(h, idx, version=2):
        info = infos.get(idx)
        if info is None or "error" in info:
            raise pynvml.NVMLError_NotSupported()
        return types.SimpleNamespace(id=info["id"], name=info["name"].encode())

    def placements(device, profileId, placementsRef, countRef):  # noqa: N803
        starts, size = lgipp[profileId]
        for k, st in enumerate(starts):
            placementsRef[k].start, placementsRef[k].size = st, size
        ctypes.cast(countRef, ctypes.POINTER(ctypes.c_uint))[0] = len(starts)

    fake.nvmlDeviceGetGpuInstanceProfileInfo = profile_info
    fake.nvmlDeviceGetGpuInstancePossiblePlacements = placements
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    b = PynvmlBackend()
    b.start()
    d = b.sample(1.0).devices[0]
    b.close()
    got = dict(d.mig_placements)
    assert got["3g.40gb"] == (0, 4) and got["1g.20gb"] == (0, 2, 4, 6)
    assert got["1g.10gb+me"] == tuple(range(7)) and got["7g.80gb"] == (0,)
    doc = annotation.to_document(NodeSample(1.0, (d,)))
    assert doc["gpus"][0]["mig"]["placements"]["2g.20gb"] == [0, 2, 4]


def test_placements_four_argument_wrapper_fills_caller_array() -> None:
    """The 11.x-13.x signature: caller-allocated array + count (telemetry.md section 3)."""
    nvml = types.SimpleNamespace(c_nvmlGpuInstancePlacement_t=_Placement)

    def wrapper(device, profileId, placementsRef, countRef):  # noqa: N803 - pynvml's names
        for i, start in enumerate((0, 4)):  # 3g.40gb on H100: starts 0 and 4, 4 slices each
            placementsRef[i].start, placementsRef[i].size = start, 4
        ctypes.cast(countRef, ctypes.POINTER(ctypes.c_uint))[0] = 2

    nvml.nvmlDeviceGetGpuInstancePossiblePlacements = wrapper
    assert mig_adapter.possible_placements(nvml, None, 9) == [(0, 4), (4, 4)]


def test_placements_type_error_falls_back_to_none() -> None:
    def wrapper(device, profileId):  # noqa: N803
        raise TypeError("missing 2 required positional arguments")

    nvml = types.SimpleNamespace(nvmlDeviceGetGpuInstancePossiblePlacements=wrapper)
    assert mig_adapter.possible_placements(nvml, None, 9) is None
    assert mig_adapter.possible_placements(types.SimpleNamespace(), None, 9) is None


def test_profile_info_uses_version_keyword_only_when_present() -> None:
    seen: list[tuple] = []
    v12 = types.SimpleNamespace(
        nvmlDeviceGetGpuInstanceProfileInfo=lambda d, p, version=2: seen.append((p, version))
    )
    v11 = types.SimpleNamespace(nvmlDeviceGetGpuInstanceProfileInfo=lambda d, p: seen.append((p,)))
    mig_adapter.profile_info(v12, None, 2)
    mig_adapter.profile_info(v11, None, 2)
    assert seen == [(2, 2), (2,)]
    assert mig_adapter.profile_name(types.SimpleNamespace(name=b"MIG 3g.40gb")) == "3g.40gb"
