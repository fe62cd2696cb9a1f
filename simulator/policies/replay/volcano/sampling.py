"""Node sampling of PredicateNodes: stop after `numNodesToFind` feasible nodes (reference 6.4.4)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from simulator.policies.replay.volcano.config import VolcanoConfig
from simulator.policies.replay.volcano.objects import Node


def num_feasible_nodes_to_find(cfg: VolcanoConfig, n: int) -> int:
    """n <= 100 or pct >= 100 -> n; else max(100, n * pct // 100) with the adaptive
    pct = max(5, 50 - n // 125). E.g. 500 -> 230, 1000 -> 420, 5000 -> 500."""
    if n <= cfg.minimum_feasible_nodes or cfg.percentage_nodes_to_find >= 100:
        return n
    pct = cfg.percentage_nodes_to_find
    if pct <= 0:
        pct = max(cfg.minimum_percentage_nodes_to_find, 50 - n // 125)
    return max(cfg.minimum_feasible_nodes, n * pct // 100)


class NodeSampler:
    """Walks nodes from a rotating start index shared across calls (`lastProcessedNodeIndex`)."""

    def __init__(self) -> None:
        self.next_start = 0

    def feasible(
        self, cfg: VolcanoConfig, nodes: Sequence[Node], predicate: Callable[[Node], bool]
    ) -> list[Node]:
        n = len(nodes)
        if n == 0:
            return []
        want = num_feasible_nodes_to_find(cfg, n)
        found: list[Node] = []
        processed = 0
        start = self.next_start % n
        while processed < n and len(found) < want:
            node = nodes[(start + processed) % n]
            processed += 1
            if predicate(node):
                found.append(node)
        self.next_start = (start + processed) % n
        return found
