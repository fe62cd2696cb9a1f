"""Run the Tessera node agent for real on an NVIDIA GPU and check /metrics follows NVML.

    python3 benchmarks/device/nvml_live.py [--gpu 0] [--idle-s 6] [--load-s 12]

Phases: idle, then a bf16 matmul load (torch, else cupy) on one GPU, then after. Every 0.5 s it
reads the agent's /metrics over HTTP and NVML directly, and compares (tolerances below, chosen
from the recorded H100 behaviour in reference/telemetry.md section 4: utilisation lags 1-2
samples, power is a 1 s average). Prints one table; exit 0 when every check passes.
Read-only: never changes MIG mode or clocks, never resets the GPU. Without a GPU it prints
SKIP and exits 0.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import httpx  # noqa: E402

from scheduler.telemetry.agent import Agent  # noqa: E402
from scheduler.telemetry.agent.nvml_real import PynvmlBackend  # noqa: E402
from scheduler.telemetry.hub.textparse import parse  # noqa: E402

# metric -> (unit conversion from /metrics to the NVML unit, absolute tolerance, relative)
CHECKS = {
    "memory_used_mib": ("tessera_gpu_memory_used_bytes", 1 / 2**20, 256.0, 0.0),
    "temperature_c": ("tessera_gpu_temperature_celsius", 1.0, 3.0, 0.0),
    "power_w": ("tessera_gpu_power_watts", 1.0, 40.0, 0.15),
    "utilization_pct": ("tessera_gpu_utilization_ratio", 100.0, 15.0, 0.0),
}


@dataclass
class Stats:
    n: int = 0
    worst: float = 0.0
    fails: int = 0
    values: list[float] = field(default_factory=list)


def nvml_read(nvml, h) -> dict[str, float | None]:
    def safe(fn, *a):
        try:
            return fn(*a)
        except nvml.NVMLError:
            return None

    mem = safe(nvml.nvmlDeviceGetMemoryInfo, h)
    util = safe(nvml.nvmlDeviceGetUtilizationRates, h)
    power = safe(nvml.nvmlDeviceGetPowerUsage, h)
    return {
        "memory_used_mib": None if mem is None else mem.used / 2**20,
        "temperature_c": safe(nvml.nvmlDeviceGetTemperature, h, nvml.NVML_TEMPERATURE_GPU),
        "power_w": None if power is None else power / 1000.0,
        "utilization_pct": None if util is None else float(util.gpu),
    }


def agent_read(url: str, gpu: int) -> dict[str, float]:
    out: dict[str, float] = {}
    for s in parse(httpx.get(url, timeout=2.0).text).samples:
        if s.labels.get("gpu") != str(gpu):
            continue
        for key, (name, scale, _a, _r) in CHECKS.items():
            if s.name == name:
                out[key] = s.value * scale
    return out


def matmul_load(stop: threading.Event, gpu: int) -> str:
    """Start a bf16 matmul loop on `gpu` in a thread; returns which library runs it."""
    try:
        import torch

        def run() -> None:
            dev = torch.device(f"cuda:{gpu}")
            a = torch.randn(8192, 8192, device=dev, dtype=torch.bfloat16)
            b = torch.randn(8192, 8192, device=dev, dtype=torch.bfloat16)
            while not stop.is_set():
                for _ in range(20):
                    a @ b
                torch.cuda.synchronize(dev)

        threading.Thread(target=run, daemon=True).start()
        return "torch"
    except ImportError:
        pass
    try:
        import cupy

        def run_cupy() -> None:
            with cupy.cuda.Device(gpu):
                a = cupy.random.rand(8192, 8192, dtype=cupy.float32)
                b = cupy.random.rand(8192, 8192, dtype=cupy.float32)
                while not stop.is_set():
                    a @ b
                    cupy.cuda.Device(gpu).synchronize()

        threading.Thread(target=run_cupy, daemon=True).start()
        return "cupy"
    except ImportError:
        return ""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gpu", type=int, default=0)
    ap.add_argument("--idle-s", type=float, default=6.0)
    ap.add_argument("--load-s", type=float, default=12.0)
    ap.add_argument("--after-s", type=float, default=4.0)
    args = ap.parse_args()
    try:
        import pynvml
    except ImportError as exc:
        print(f"SKIP: nvidia-ml-py is not installed ({exc})")
        return 0
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        print(f"SKIP: no usable NVIDIA GPU / NVML here ({type(exc).__name__}: {exc})")
        return 0
    h = pynvml.nvmlDeviceGetHandleByIndex(args.gpu)
    name = pynvml.nvmlDeviceGetName(h)
    driver = pynvml.nvmlSystemGetDriverVersion()
    agent = Agent("nvml-live", PynvmlBackend(), interval_s=0.25)
    server = agent.serve(0, "127.0.0.1")
    threading.Thread(target=agent.run_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/metrics"
    time.sleep(1.0)
    stop = threading.Event()
    phases = [("idle", args.idle_s), ("matmul", args.load_s), ("after", args.after_s)]
    table: dict[tuple[str, str], Stats] = {}
    lib = ""
    for phase, seconds in phases:
        if phase == "matmul":
            lib = matmul_load(stop, args.gpu)
        if phase == "after":
            stop.set()
        end = time.time() + seconds
        while time.time() < end:
            before = nvml_read(pynvml, h)
            got = agent_read(url, args.gpu)
            after = nvml_read(pynvml, h)
            for key, (_n, _s, tol_abs, tol_rel) in CHECKS.items():
                st = table.setdefault((phase, key), Stats())
                refs = [v for v in (before[key], after[key]) if v is not None]
                if key not in got or not refs:
                    continue
                diff = min(abs(got[key] - r) for r in refs)
                tol = max(tol_abs, tol_rel * max(refs))
                st.n += 1
                st.worst = max(st.worst, diff)
                st.fails += diff > tol
                st.values.append(got[key])
            time.sleep(0.5)
    agent.stop()
    server.shutdown()
    print(f"GPU {args.gpu}: {name}, driver {driver}, load by {lib or 'none (no torch/cupy)'}")
    print(f"{'phase':8} {'metric':16} {'samples':>7} {'median':>9} {'max |diff|':>10} {'fails':>5}")
    ok = True
    for (phase, key), st in table.items():
        med = sorted(st.values)[len(st.values) // 2] if st.values else float("nan")
        print(f"{phase:8} {key:16} {st.n:7d} {med:9.1f} {st.worst:10.2f} {st.fails:5d}")
        ok &= st.fails == 0
    load_util = table.get(("matmul", "utilization_pct"))
    if lib and load_util and load_util.values:
        rose = max(load_util.values) >= 90.0
        print(f"utilisation under load reached >= 90 %: {rose}")
        ok &= rose
    print("RESULT:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
