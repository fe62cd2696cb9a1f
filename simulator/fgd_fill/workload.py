"""The arrival sequence of one fill run (the paper's "-tune 1.3 --shuffle-pod=true").

1. Sort the trace's pods by name.
2. Tune down (the published ``tuneDownPods``): when the trace alone already asks for more than
   ``inflate`` x cluster GPU capacity (a multi-GPU-heavy variant, say), remove uniformly random
   pods, one at a time, until the total GPU request is at most that limit. Removing pods in the
   order of one random permutation is the same draw (sampling without replacement).
3. Shuffle the remaining pods with the run's RNG.
4. Tune up, only when nothing was removed: append pods drawn uniformly with replacement from the
   name-sorted trace until the next draw would push the GPU request past the limit. As in the
   published simulator, that stop test adds the draw's per-GPU milli while the running total adds
   its full request (``num_gpu x gpu_milli``); we keep the quirk so the stream matches theirs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from simulator.traces.openb import OpenbPod


def tune_down(
    pods: Sequence[OpenbPod], limit_gpu_milli: float, rng: np.random.Generator
) -> list[OpenbPod]:
    """``pods`` less uniformly random pods until their GPU request is at most the limit
    (order kept). Pods without GPUs may be drawn too; they just do not lower the total."""
    requested = sum(p.total_gpu_milli for p in pods)
    if requested <= limit_gpu_milli:
        return list(pods)
    removed = np.zeros(len(pods), dtype=bool)
    for i in rng.permutation(len(pods)):
        removed[i] = True
        requested -= pods[i].total_gpu_milli
        if requested <= limit_gpu_milli:
            break
    return [p for p, gone in zip(pods, removed, strict=True) if not gone]


def fill_arrivals(
    pods: Sequence[OpenbPod], capacity_gpu_milli: int, inflate: float, rng: np.random.Generator
) -> list[OpenbPod]:
    if not pods:
        raise ValueError("the pod list is empty")
    if not inflate > 0:
        raise ValueError(f"--inflate must be positive, got {inflate}")
    by_name = sorted(pods, key=lambda p: p.name)
    target = inflate * capacity_gpu_milli
    requested = sum(p.total_gpu_milli for p in by_name)
    if requested > target:
        kept = tune_down(by_name, target, rng)
        return [kept[i] for i in rng.permutation(len(kept))]
    arrivals = [by_name[i] for i in rng.permutation(len(by_name))]
    if not any(p.gpu_milli for p in by_name):
        return arrivals  # nothing to inflate with: no pod asks for a GPU
    while True:
        draw = by_name[int(rng.integers(len(by_name)))]
        if requested + draw.gpu_milli > target:
            return arrivals
        requested += draw.total_gpu_milli
        arrivals.append(draw)
