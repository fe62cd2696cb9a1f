"""Replay backend: plays a real recorded NVML capture (shared/fixtures/nvml/<gpu>/) as if live.

Inventory and health come from the one-shot snapshot (`nvml_snapshot_*.json`); the moving values
(utilisation, framebuffer used, power, temperature, SM clock, processes) come from the recorded
time series (`nvml_timeseries_*.json`, then `nvml_multiproc_*.json`), played at recorded pace and
looped. `offset_s` starts inside the recording; `hold=True` freezes it there (a steady load for a
test). `inject_xids` is an explicit fault drill layered on top: the recording itself is healthy.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scheduler import safejson
from scheduler.telemetry.agent.backend import NvmlUnavailable
from scheduler.telemetry.readings import DeviceSample, NodeSample, XidEvent


@dataclass(frozen=True)
class _Row:
    t: float  # seconds from the start of the played series
    gpu_util: float
    mem_util: float
    fb_used: int  # bytes
    power_mw: float
    temp_c: float
    sm_clock: float
    processes: int | None


def _find(folder: Path, prefix: str) -> Path | None:
    found = sorted(folder.glob(f"{prefix}*.json"))
    return found[0] if found else None


def load_rows(folder: Path) -> list[_Row]:
    """The time series then the multi-process series, one timeline (gap of one period between)."""
    rows: list[_Row] = []
    ts = _find(folder, "nvml_timeseries_")
    if ts is not None:
        data = safejson.loads(ts.read_bytes(), safejson.DOCUMENT, str(ts))
        t0 = data[0]["t"]
        rows += [
            _Row(
                r["t"] - t0,
                r["gpu_util"],
                r["mem_util"],
                int(r["fb_used"]),
                r["power_mw"],
                r["temp_c"],
                r["sm_clock"],
                None,
            )
            for r in data
        ]
    mp = _find(folder, "nvml_multiproc_")
    if mp is not None:
        data = safejson.loads(mp.read_bytes(), safejson.DOCUMENT, str(mp))
        base = (rows[-1].t + float(data.get("period_s", 0.25))) if rows else 0.0
        rows += [
            _Row(
                base + r["t"],
                r["gpu_util"],
                r["mem_util"],
                int(r["fb_used_mib"]) << 20,
                r["power_mw"],
                r["temp_c"],
                r["sm_clock"],
                len(r.get("processes", [])),
            )
            for r in data["rows"]
        ]
    return rows


def _ok(v: Any) -> Any:
    """A snapshot field recorded as {"error": ...} was unsupported on the real GPU -> None."""
    return None if isinstance(v, dict) and "error" in v else v


class ReplayBackend:
    name = "replay"

    def __init__(
        self,
        path: str | Path,
        *,
        offset_s: float = 0.0,
        hold: bool = False,
        speed: float = 1.0,
        inject_xids: tuple[int, ...] = (),
    ) -> None:
        self._path = Path(path)
        self._offset, self._hold, self._speed = offset_s, hold, speed
        self._inject = inject_xids
        self._snap: dict[str, Any] = {}
        self._rows: list[_Row] = []
        self._t0: float | None = None

    def start(self) -> None:
        folder = self._path if self._path.is_dir() else self._path.parent
        snap = self._path if self._path.is_file() else _find(folder, "nvml_snapshot_")
        if snap is None or not snap.is_file():
            raise NvmlUnavailable(f"no NVML snapshot to replay at {self._path}")
        try:
            self._snap = safejson.loads(snap.read_bytes(), safejson.DOCUMENT, str(snap))
            self._rows = load_rows(folder)
        except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
            # (a deep file was a RecursionError from json.loads, an empty series an IndexError:
            # tracebacks from `tessera agent --nvml-replay`)
            why = " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
            raise NvmlUnavailable(f"cannot read NVML replay {self._path}: {why}") from None
        if not isinstance(self._snap, dict) or not self._snap.get("devices"):
            raise NvmlUnavailable(f"NVML replay {snap} lists no devices")

    def close(self) -> None:
        self._t0 = None

    def position(self, now: float) -> float:
        """Seconds into the recording that `now` plays."""
        if self._t0 is None:
            self._t0 = now
        if not self._rows:
            return 0.0
        span = self._rows[-1].t + 0.2
        t = self._offset if self._hold else self._offset + (now - self._t0) * self._speed
        return t % span

    def _row(self, now: float) -> _Row | None:
        if not self._rows:
            return None
        pos = self.position(now)
        i = bisect.bisect_right([r.t for r in self._rows], pos) - 1
        return self._rows[max(i, 0)]

    def sample(self, now: float) -> NodeSample:
        row = self._row(now)
        devices = tuple(self._device(d, row) for d in self._snap["devices"])
        xids = tuple(XidEvent(xid=x, at=now, gpu_uuid=devices[0].uuid) for x in self._inject)
        return NodeSample(
            taken_at=now,
            devices=devices,
            xids=xids,
            driver_version=str(self._snap.get("driver", "")),
        )

    @staticmethod
    def _device(d: dict[str, Any], row: _Row | None) -> DeviceSample:
        mem = _ok(d.get("memory")) or {}
        util = _ok(d.get("utilization")) or {}
        rows = _ok(d.get("remapped_rows"))
        mig = _ok(d.get("mig_mode"))
        procs = _ok(d.get("processes"))
        power = _ok(d.get("power_mw"))
        limit = _ok(d.get("power_limit_mw"))
        return DeviceSample(
            index=int(d["index"]),
            uuid=str(d["uuid"]),
            name=str(d["name"]),
            memory_total_bytes=mem.get("total"),
            memory_used_bytes=row.fb_used if row else mem.get("used"),
            utilization_pct=row.gpu_util if row else util.get("gpu"),
            memory_util_pct=row.mem_util if row else util.get("memory"),
            temperature_c=row.temp_c if row else _ok(d.get("temperature_gpu")),
            power_w=(row.power_mw if row else power) / 1000.0 if (row or power) else None,
            power_limit_w=None if limit is None else limit / 1000.0,
            sm_clock_mhz=row.sm_clock if row else _ok(d.get("sm_clock")),
            ecc_uncorrectable_volatile=_ok(d.get("ecc_volatile_uncorrected")),
            remap_pending=None if rows is None else bool(rows[2]),
            remap_failure=None if rows is None else bool(rows[3]),
            mig_enabled=None if mig is None else bool(mig[0]),
            process_count=(
                row.processes
                if row and row.processes is not None
                else (len(procs) if procs is not None else None)
            ),
        )
