"""Filter: the node's GPU model is one the pod accepts (`nvidia.com/gpu.product` constraints).

Names are compared through the packing catalogue, so a GFD label ("NVIDIA-H100-80GB-HBM3"),
an NVML name and a catalogue key ("H100-80GB") for the same model all match; names the
catalogue does not know are compared verbatim. A mismatch is permanent: unresolvable.
"""

from __future__ import annotations

import numpy as np

from scheduler.policy.interfaces import CycleState, RowVerdicts
from scheduler.policy.model import ClusterState, Node, PodRequest
from scheduler.policy.rules import PRODUCT_LABEL, canonical, node_products
from scheduler.policy.status import SUCCESS, Code, Status, unresolvable

__all__ = ["PRODUCT_LABEL", "GpuModelFilter", "canonical", "node_products"]


class GpuModelFilter:
    name = "GpuModel"
    state_only = True  # filter_rows reads only the row's index columns (ScorePlugin)

    def __init__(self, args: None = None) -> None:
        """Takes no settings (the registry's factory call)."""

    def filter(self, state: ClusterState, pod: PodRequest, node: Node) -> Status:
        if pod.allowed_products is None or pod.gpu is None:
            return SUCCESS
        allowed = {canonical(p) for p in pod.allowed_products}
        have = node_products(node)
        # Every GPU the pod could land on must be of an accepted model; mixed nodes are rare and
        # the device plugin would not honour a per-GPU choice.
        if have and have <= allowed:
            return SUCCESS
        return unresolvable(
            f"GPU model {', '.join(sorted(have)) or 'unknown'} not in {', '.join(sorted(allowed))}"
        )

    def filter_rows(self, cycle: CycleState) -> RowVerdicts | None:
        """From the index's product column (a node with several models is an index `slow`
        row, judged per node)."""
        pod = cycle.pod
        if pod.allowed_products is None or pod.gpu is None:
            return RowVerdicts.all_pass()
        allowed = {canonical(p) for p in pod.allowed_products}
        idx = cycle.index
        codes = [i for i, k in enumerate(idx.keys) if k and k in allowed]
        ok = np.isin(idx.product[cycle.rows], codes)
        code = np.where(ok, Code.SUCCESS, Code.UNSCHEDULABLE_AND_UNRESOLVABLE).astype(np.int8)
        why = f"GPU model not in {', '.join(sorted(allowed))}"
        return RowVerdicts(code, {Code.UNSCHEDULABLE_AND_UNRESOLVABLE: why})
