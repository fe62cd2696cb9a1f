"""Allocation against arrived load, logged after every pod and sampled like the paper's
analysis: for each integer arrived % x, the mean (2-decimal) allocation % over pods whose
arrived % rounds to x, widening to x +/- 1 when none does."""

from __future__ import annotations

import numpy as np


class AllocationLog:
    def __init__(self, total_gpu_milli: int) -> None:
        self.total = total_gpu_milli
        self.arrived: list[int] = []
        self.used: list[int] = []

    def record(self, arrived_gpu_milli: int, used_gpu_milli: int) -> None:
        self.arrived.append(arrived_gpu_milli)
        self.used.append(used_gpu_milli)

    def curve(self, max_pct: int = 130) -> list[tuple[int, float]]:
        arrived = np.round(np.array(self.arrived, dtype=float) / self.total * 100.0)
        alloc = np.round(np.array(self.used, dtype=float) / self.total * 100.0, 2)
        out: list[tuple[int, float]] = []
        for x in range(max_pct + 1):
            sel = alloc[arrived == x]
            if sel.size == 0:
                sel = alloc[(arrived >= x - 1) & (arrived <= x + 1)]
            if sel.size:
                out.append((x, round(float(sel.mean()), 2)))
        return out
