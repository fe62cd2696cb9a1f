"""Builders for the scorer tests' small fleets of 16 GiB GPUs (T4, V100: models outside the MIG
catalogue, as in the Alibaba trace), each GPU written as the milli left free on it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from scheduler.policy.model import Allocation, Gpu, GpuGrant, Node, Placement

T4 = "T4"


def gpu_node(name: str, gpus: int, model: str = T4, cpu_milli: int = 32000) -> Node:
    """A node of `gpus` 16 GiB GPUs of `model`, GPU i's uuid `<name>-<i>`."""
    return Node(name, gpus=tuple(Gpu(i, f"{name}-{i}", model, 16384) for i in range(gpus)),
                cpu_milli=cpu_milli)  # fmt: skip


def free_fleet(
    frees: Mapping[str, Sequence[int]],
    models: Mapping[str, str] | None = None,
    cpu: Mapping[str, tuple[int, int]] | None = None,
) -> tuple[dict[str, Node], dict[str, Allocation]]:
    """One node per key with one GPU per free value (1000: idle; 0: held whole; else a share of
    1000 - free held), GPU i held by pod `<node><i>`; `models`: per node, default T4; `cpu`: per
    node (capacity, CPU held by pod `<node>-cpu`), default 32 cores, none held."""
    nodes, allocs = {}, {}
    for n, free in frees.items():
        cap, held = (cpu or {}).get(n, (32000, 0))
        nodes[n] = gpu_node(n, len(free), (models or {}).get(n, T4), cap)
        for i, f in enumerate(free):
            if f < 1000:
                grant = GpuGrant(i) if f == 0 else GpuGrant(i, milli=1000 - f)
                allocs[f"{n}{i}"] = Allocation(f"d/{n}{i}", f"{n}{i}", Placement(n, (grant,)))
        if held:
            allocs[f"{n}-cpu"] = Allocation(f"d/{n}-cpu", f"{n}-cpu", Placement(n, ()),
                                            cpu_milli=held)  # fmt: skip
    return nodes, allocs
