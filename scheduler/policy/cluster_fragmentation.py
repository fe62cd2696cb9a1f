"""Cluster-wide fragmentation, for the extender's /metrics (`tessera_cluster_fragmentation`).

Both figures are the fraction of the cluster's GPU capacity (0..1) that is free but stranded:
- "mig": the MIG generalisation of FGD (`packing.fragmentation`, each profile weighted equally)
  summed over usable MIG GPUs, divided by 1000 x their number;
- "shares": the FGD paper's measure (`packing.fgd`) for GPUs with MIG off, with the target
  workload built, as in the paper, from the typical shapes of the pods the cluster knows
  (whole GPUs and shares), divided by 1000 x the number of such GPUs. With no such pods the
  workload is "one whole GPU", so only partly used GPUs count as fragments.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from packing.catalogue import get_model
from packing.errors import PackingError
from packing.fgd import FragTable, TaskShape, typical_workload
from packing.fragmentation import mig_fragmentation_fleet
from scheduler.policy.fleet_index import NO_GPU
from scheduler.policy.model import MILLI_PER_GPU, ClusterState, PodRequest


def task_shapes(pods: Iterable[PodRequest]) -> list[TaskShape]:
    out = []
    for p in pods:
        g = p.gpu
        if g is None or g.kind == "mig":
            continue
        whole = g.kind == "whole"
        out.append(TaskShape(0, MILLI_PER_GPU if whole else g.milli, g.count if whole else 1))
    return out


def cluster_fragmentation(state: ClusterState, pods: Iterable[PodRequest]) -> dict[str, float]:
    idx = state.fleet()
    alive = idx.alive
    out: dict[str, float] = {}
    masks, codes = idx.mig_mask[alive], idx.mig_code[alive]
    total = 0.0
    gpus = 0
    for c, key in enumerate(idx.keys):
        sel = codes == c
        if not key or not sel.any():
            continue
        try:
            total += float(mig_fragmentation_fleet(masks[sel], get_model(key)).sum())
        except PackingError:
            continue
        gpus += int(sel.sum())
    out["mig"] = total / (MILLI_PER_GPU * gpus) if gpus else 0.0
    plain = idx.plain_free[alive].astype(np.int64)
    count = int((plain != NO_GPU).sum())
    if not count:
        out["shares"] = 0.0
        return out
    shapes = task_shapes(pods) or [TaskShape(0, MILLI_PER_GPU, 1)]
    table = FragTable(typical_workload(shapes), ("any",), max_gpus=max(8, plain.shape[1]))
    frag = table.node_frag(plain, idx.cpu[alive], np.zeros(len(plain), np.intp))
    out["shares"] = float(frag.sum()) / (MILLI_PER_GPU * count)
    return out
