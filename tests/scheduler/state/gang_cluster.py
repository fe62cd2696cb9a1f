"""The two-node cluster the gang-path tests build: nodes a and b of 8 whole GPUs, pods
running on them, and gangs whose members wait (one helper, shared by the test modules)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from scheduler.state.extender import Extender
from tests.builders import event, gang_member_json, gpu_json, node_json, pod_json

NODES = ["a", "b"]


def busy(name: str, node: str, gpus: int) -> dict[str, Any]:
    """A pod running on `node` with `gpus` whole GPUs."""
    return pod_json(name, {"nvidia.com/gpu": gpus}, node=node, phase="Running")


def add_nodes(ext: Extender, running: Iterable[dict[str, Any]] = (),
              nodes: Iterable[str] = NODES) -> None:  # fmt: skip
    """`nodes` (a and b) of 8 GPUs each, then the `running` pods on them."""
    for n in nodes:
        ext.store.apply(event(node_json(n, [gpu_json(i) for i in range(8)])))
    for p in running:
        ext.store.apply(event(p))


def add_gang(ext: Extender, group: str, size: int, gpus: int) -> list[dict[str, Any]]:
    """`size` waiting members of gang `group` (minMember `size`), `gpus` GPUs each."""
    ms = [gang_member_json(f"{group}{i}", {"nvidia.com/gpu": gpus}, group, size)
          for i in range(size)]  # fmt: skip
    for m in ms:
        ext.store.apply(event(m))
    return ms


def filter_single(ext: Extender, nodes: list[str], gpus: int,
                  priority: int | None = None) -> list[str]:  # fmt: skip
    """A new pod s of `gpus` whole GPUs, filtered over `nodes`: the nodes it passes."""
    s = pod_json("s", {"nvidia.com/gpu": gpus}, priority=priority)
    ext.store.apply(event(s))
    return ext.filter(s, nodes).passed


def filter_new_gang(ext: Extender, nodes: list[str], size: int, gpus: int) -> str | None:
    """A new gang g (`size` x `gpus`), its first member filtered over `nodes`: the gang's
    outcome."""
    return ext.filter(add_gang(ext, "g", size, gpus)[0], nodes).gang_outcome
