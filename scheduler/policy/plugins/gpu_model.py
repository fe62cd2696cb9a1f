"""Filter: the node's GPU model is one the pod accepts (`nvidia.com/gpu.product` constraints).

Names are compared through the packing catalogue, so a GFD label ("NVIDIA-H100-80GB-HBM3"),
an NVML name and a catalogue key ("H100-80GB") for the same model all match; names the
catalogue does not know are compared verbatim. A mismatch is permanent: unresolvable.
"""

from __future__ import annotations

from functools import lru_cache

from scheduler.policy.capacity import resolve_model
from scheduler.policy.model import ClusterState, Node, PodRequest
from scheduler.policy.status import SUCCESS, Status, unresolvable

PRODUCT_LABEL = "nvidia.com/gpu.product"


@lru_cache(maxsize=4096)
def canonical(name: str) -> str:
    model = resolve_model(name)
    return model.key if model is not None else name.strip()


def node_products(node: Node) -> frozenset[str]:
    """Canonical model names on the node: from its GPUs, else its GFD product label."""
    names = {canonical(g.model) for g in node.gpus}
    label = node.labels.get(PRODUCT_LABEL)
    if not names and label:
        names.add(canonical(label))
    return frozenset(names)


class GpuModelFilter:
    name = "GpuModel"

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
