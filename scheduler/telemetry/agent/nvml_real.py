"""The real NVML backend (nvidia-ml-py, module `pynvml`). Read-only: never changes MIG, clocks.

Every field may raise `NVMLError_NotSupported` (the H100 capture shows several), so each call goes
through `_read`, which turns any NVMLError into None and logs it once per (gpu, field, error).
"""

from __future__ import annotations

import collections
import ctypes
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from scheduler.telemetry.agent import mig_adapter
from scheduler.telemetry.agent.backend import NvmlUnavailable
from scheduler.telemetry.logonce import LogOnce
from scheduler.telemetry.readings import DeviceSample, MigInstanceSample, NodeSample, XidEvent

log = logging.getLogger(__name__)
MIB = 1024 * 1024
XID_WINDOW_S = 3600.0  # how long XID events are kept for the health window
_NO_INSTANCE = 0xFFFFFFFF


class PynvmlBackend:
    name = "nvml"

    def __init__(self, xid_window_s: float = XID_WINDOW_S) -> None:
        self._nvml: Any = None
        self._once = LogOnce(log)
        self._xids: collections.deque[XidEvent] = collections.deque(maxlen=1024)
        self._xid_window_s = xid_window_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._placement_cache: dict[int, tuple[tuple[str, tuple[int, ...]], ...]] = {}

    def start(self) -> None:
        try:
            import pynvml
        except ImportError as exc:
            raise NvmlUnavailable(f"nvidia-ml-py (module pynvml) is not installed: {exc}") from None
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as exc:
            raise NvmlUnavailable(f"NVML init failed ({type(exc).__name__}: {exc})") from None
        self._nvml = pynvml
        self._start_xid_watch()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=3)
        if self._nvml is not None:
            nvml, self._nvml = self._nvml, None
            self._read("system", "shutdown", nvml.nvmlShutdown)

    # -- reading -------------------------------------------------------------------------------

    def _read(self, where: str, what: str, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except self._nvml_error() as exc:
            self._once.warning(
                f"{where}/{what}/{type(exc).__name__}",
                "NVML %s on %s: %s (field left empty)",
                what,
                where,
                type(exc).__name__,
            )
            return None

    def _nvml_error(self) -> type[BaseException]:
        import pynvml

        return pynvml.NVMLError

    def sample(self, now: float) -> NodeSample:
        if self._nvml is None:
            raise NvmlUnavailable("NVML backend used before start()")
        n = self._nvml
        count = self._read("system", "device count", n.nvmlDeviceGetCount)
        if count is None:  # the library itself stopped answering: let the agent re-initialise
            raise NvmlUnavailable("NVML stopped answering (device count failed)")
        driver = self._read("system", "driver version", n.nvmlSystemGetDriverVersion) or ""
        devices = []
        for i in range(count):
            handle = self._read(f"gpu{i}", "handle", n.nvmlDeviceGetHandleByIndex, i)
            if handle is not None:
                devices.append(self._device(i, handle))
        cutoff = now - self._xid_window_s
        xids = tuple(x for x in list(self._xids) if x.at >= cutoff)
        return NodeSample(
            taken_at=now, devices=tuple(devices), xids=xids, driver_version=_text(driver)
        )

    def _device(self, i: int, h: Any) -> DeviceSample:
        n, w = self._nvml, f"gpu{i}"
        mem = self._read(w, "memory", n.nvmlDeviceGetMemoryInfo, h)
        util = self._read(w, "utilization", n.nvmlDeviceGetUtilizationRates, h)
        temp = self._temperature(w, h)
        power = self._read(w, "power", n.nvmlDeviceGetPowerUsage, h)
        limit = self._read(w, "power limit", n.nvmlDeviceGetEnforcedPowerLimit, h)
        ecc = self._read(
            w,
            "ecc",
            n.nvmlDeviceGetTotalEccErrors,
            h,
            n.NVML_MEMORY_ERROR_TYPE_UNCORRECTED,
            n.NVML_VOLATILE_ECC,
        )
        rows = self._read(w, "remapped rows", n.nvmlDeviceGetRemappedRows, h)
        mig = self._read(w, "mig mode", n.nvmlDeviceGetMigMode, h)
        procs = self._read(w, "processes", n.nvmlDeviceGetComputeRunningProcesses, h)
        mig_on = None if mig is None else bool(mig[0])
        return DeviceSample(
            index=i,
            uuid=_text(self._read(w, "uuid", n.nvmlDeviceGetUUID, h) or ""),
            name=_text(self._read(w, "name", n.nvmlDeviceGetName, h) or ""),
            memory_total_bytes=None if mem is None else int(mem.total),
            memory_used_bytes=None if mem is None else int(mem.used),
            utilization_pct=None if util is None else float(util.gpu),
            memory_util_pct=None if util is None else float(util.memory),
            temperature_c=None if temp is None else float(temp),
            power_w=None if power is None else power / 1000.0,
            power_limit_w=None if limit is None else limit / 1000.0,
            sm_clock_mhz=_num(
                self._read(w, "sm clock", n.nvmlDeviceGetClockInfo, h, n.NVML_CLOCK_SM)
            ),
            ecc_uncorrectable_volatile=None if ecc is None else int(ecc),
            remap_pending=None if rows is None else bool(rows[2]),
            remap_failure=None if rows is None else bool(rows[3]),
            mig_enabled=mig_on,
            mig_instances=self._instances(w, h) if mig_on else (),
            process_count=None if procs is None else len(procs),
            mig_placements=self._placements(i, w, h),
        )

    def _placements(self, i: int, w: str, h: Any) -> tuple[tuple[str, tuple[int, ...]], ...]:
        """Starts per MIG profile as the driver reports them; read once per GPU (static)."""
        if i in self._placement_cache:
            return self._placement_cache[i]
        n, out = self._nvml, []
        for idx in range(getattr(n, "NVML_GPU_INSTANCE_PROFILE_COUNT", 0)):
            info = self._read(w, f"profile {idx}", mig_adapter.profile_info, n, h, idx)
            if info is None:
                continue  # NotSupported / InvalidArgument for profiles this GPU lacks
            got = self._read(w, "placements", mig_adapter.possible_placements, n, h, info.id)
            name = mig_adapter.profile_name(info)
            if got and name:
                out.append((name, tuple(sorted(start for start, _size in got))))
        self._placement_cache[i] = tuple(out)
        return self._placement_cache[i]

    def _temperature(self, w: str, h: Any) -> Any:
        """`nvmlDeviceGetTemperatureV` where the wrapper and driver have it (the plain call is
        deprecated), else the plain call (older nvidia-ml-py or a driver lacking the symbol)."""
        n = self._nvml
        newer = getattr(n, "nvmlDeviceGetTemperatureV", None)
        temp = None
        if newer is not None:
            temp = self._read(w, "temperatureV", newer, h, n.NVML_TEMPERATURE_GPU)
        if temp is None:
            temp = self._read(
                w, "temperature", n.nvmlDeviceGetTemperature, h, n.NVML_TEMPERATURE_GPU
            )
        return temp

    def _instances(self, w: str, h: Any) -> tuple[MigInstanceSample, ...]:
        """GPU instances with profile name and placement start; in_use = a process runs on it."""
        n = self._nvml
        busy = self._busy_gi_ids(w, h)
        out: list[MigInstanceSample] = []
        for idx in range(n.NVML_GPU_INSTANCE_PROFILE_COUNT):
            info = self._read(w, f"profile {idx}", mig_adapter.profile_info, n, h, idx)
            if info is None:
                continue  # NotSupported / InvalidArgument for profiles this GPU lacks
            arr = (n.c_nvmlGpuInstance_t * mig_adapter.MAX_PLACEMENTS)()
            cnt = ctypes.c_uint(0)
            ok = self._read(
                w,
                f"instances {idx}",
                n.nvmlDeviceGetGpuInstances,
                h,
                info.id,
                arr,
                ctypes.byref(cnt),
            )
            if ok is None:
                continue
            for k in range(int(cnt.value)):
                gi = self._read(w, "instance info", n.nvmlGpuInstanceGetInfo, arr[k])
                if gi is not None:
                    out.append(
                        MigInstanceSample(
                            profile=mig_adapter.profile_name(info),
                            start=int(gi.placement.start),
                            gi_id=int(gi.id),
                            in_use=int(gi.id) in busy,
                        )
                    )
        return tuple(sorted(out, key=lambda m: m.start))

    def _busy_gi_ids(self, w: str, h: Any) -> set[int]:
        n = self._nvml
        busy: set[int] = set()
        for k in range(self._read(w, "max mig devices", n.nvmlDeviceGetMaxMigDeviceCount, h) or 0):
            try:
                mh = n.nvmlDeviceGetMigDeviceHandleByIndex(h, k)
            except n.NVMLError:
                continue  # NOT_FOUND for holes is normal
            procs = self._read(w, "mig processes", n.nvmlDeviceGetComputeRunningProcesses, mh)
            gi = self._read(w, "gi id", n.nvmlDeviceGetGpuInstanceId, mh)
            if procs and gi is not None:
                busy.add(int(gi))
        return busy

    # -- XID events ----------------------------------------------------------------------------

    def _start_xid_watch(self) -> None:
        n = self._nvml
        evset = self._read("system", "event set", n.nvmlEventSetCreate)
        if evset is None:
            return
        uuids: dict[int, str] = {}
        for i in range(self._read("system", "device count", n.nvmlDeviceGetCount) or 0):
            h = self._read(f"gpu{i}", "handle", n.nvmlDeviceGetHandleByIndex, i)
            if h is None:
                continue
            self._read(
                f"gpu{i}",
                "xid registration",
                n.nvmlDeviceRegisterEvents,
                h,
                n.nvmlEventTypeXidCriticalError,
                evset,
            )
            uuids[i] = _text(self._read(f"gpu{i}", "uuid", n.nvmlDeviceGetUUID, h) or "")
        self._thread = threading.Thread(
            target=self._watch, args=(evset,), daemon=True, name="tessera-xid-watch"
        )
        self._thread.start()

    def _watch(self, evset: Any) -> None:
        n = self._nvml
        while not self._stop.is_set() and n is not None:
            try:
                data = n.nvmlEventSetWait(evset, 1000)
            except n.NVMLError_Timeout:
                continue
            except n.NVMLError as exc:
                self._once.warning(
                    "xid-wait", "XID event wait failed (%s); XID watch stopped", type(exc).__name__
                )
                return
            uuid = _text(self._read("xid", "uuid", n.nvmlDeviceGetUUID, data.device) or "")
            self._xids.append(XidEvent(xid=int(data.eventData), at=time.time(), gpu_uuid=uuid))
            log.warning("XID %d on %s", int(data.eventData), uuid or "unknown GPU")


def _text(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _num(v: Any) -> float | None:
    return None if v is None else float(v)
