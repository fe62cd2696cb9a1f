"""The arrival sequence of one fill run (the paper's "-tune 1.3 --shuffle-pod=true").

1. Sort the trace's pods by name, shuffle them with the run's RNG.
2. Append pods drawn uniformly with replacement from the name-sorted trace until the next draw
   would push the GPU request past ``inflate`` x cluster GPU capacity. As in the published
   simulator, that stop test adds the draw's per-GPU milli while the running total adds its full
   request (``num_gpu x gpu_milli``); we keep the quirk so the arrival stream matches theirs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from simulator.traces.openb import OpenbPod


def fill_arrivals(
    pods: Sequence[OpenbPod], capacity_gpu_milli: int, inflate: float, rng: np.random.Generator
) -> list[OpenbPod]:
    if not pods:
        raise ValueError("the pod list is empty")
    if not inflate > 0:
        raise ValueError(f"--inflate must be positive, got {inflate}")
    by_name = sorted(pods, key=lambda p: p.name)
    arrivals = [by_name[i] for i in rng.permutation(len(by_name))]
    requested = sum(p.total_gpu_milli for p in by_name)
    target = inflate * capacity_gpu_milli
    if requested > target:
        raise ValueError(
            f"the trace already asks for {requested / 1000:.1f} GPUs, more than --inflate "
            f"{inflate} x capacity ({target / 1000:.1f}); raise --inflate"
        )
    if not any(p.gpu_milli for p in by_name):
        return arrivals  # nothing to inflate with: no pod asks for a GPU
    while True:
        draw = by_name[int(rng.integers(len(by_name)))]
        if requested + draw.gpu_milli > target:
            return arrivals
        requested += draw.total_gpu_milli
        arrivals.append(draw)
