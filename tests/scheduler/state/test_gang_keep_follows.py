"""The keeper's nodes follow the drain at the first filter after room comes back.

Measured on the real control plane (benchmarks/RESULTS.md, Digital twin, round 8, run
`base1`, the keep changes in the extender's log): the keep for j00142 (4 x 8 GPUs) stood on
h100-000..003, all busy, when j00143-train left h100-010 empty; 55 trace s (0.2 s wall)
later j00151-train (2 x 4, seen after j00142) took h100-010, outside the keep, and so twice
more before the 2 s pass moved the keep; j00142 started 3,700 trace s after the model's
median. Now a filter that plans the keeper first (`earlier_first`, the keeper's failure
dropped by the departure) chooses its nodes again on the state the pod is decided on.

The cluster in every row: nodes a, b, c of 8 GPUs, each running one 8-GPU pod (x on a, y on
b, z on c). The keeper K (2 x 8) waits; the pass keeps a and b (8 busy on every node: ties go
to the order given).
"""

from __future__ import annotations

import pytest

from scheduler.state.extender import Extender
from tests.builders import event, gpu_json, node_json, pod_json
from tests.scheduler.state.gang_cluster import (
    add_gang,
    add_nodes,
    busy,
    filter_new_gang,
    filter_single,
)

K = "default/k"
NODES3 = ["a", "b", "c"]


def _setup(ext: Extender, leave: str) -> None:
    running = {"x": busy("x", "a", 8), "y": busy("y", "b", 8), "z": busy("z", "c", 8)}
    add_nodes(ext, running.values(), NODES3)
    add_gang(ext, "k", 2, 8)
    ext.recover_gangs()
    assert ext.gangs.keep is not None and ext.gangs.keep.gang == K
    assert dict(ext.gangs.keep.nodes) == {"a": 8, "b": 8}
    ext.store.apply(event(running[leave], "DELETED"))


def _single(ext: Extender, priority: int | None = None) -> list[str]:
    return filter_single(ext, NODES3, 8, priority)


def _later_gang(ext: Extender) -> str | None:
    return filter_new_gang(ext, NODES3, 2, 4)


ROWS = [
    # z leaves c: c 8 free, a and b 0. K (2 x 8) does not fit (one empty node). s (8 GPUs,
    # seen after K) plans K first, which fails; its nodes are chosen again: c (0 busy to
    # wait for) and a (8, first in order): kept {a: 8, c: 8}. s may not take c (8 free - 8 <
    # its budget 8) and a, b are full: it waits. Before: the keep stayed {a, b} until the
    # next pass and s took c.
    ("a later single pod", "z", lambda ext: _single(ext), [], {"a": 8, "c": 8}),
    # The same for a later gang G (2 x 4): it plans without the kept nodes, a full b: failed.
    # Before: G planned on c (4 + 4) and started.
    ("a later gang", "z", lambda ext: _later_gang(ext), "failed", {"a": 8, "c": 8}),
    # x leaves a, a kept node: K's nodes are chosen again the same, {a, b} (a 0 busy, then b
    # and c tie at 8: the order given). s may not take a: it waits (before and after).
    ("a kept node empties", "x", lambda ext: _single(ext), [], {"a": 8, "b": 8}),
    # A pod of higher priority is not kept out and K is not planned for it (it ranks before
    # K): it passes c, and the keep stands as the pass chose it until the next decision.
    ("a higher-priority pod", "z", lambda ext: _single(ext, 5), ["c"], {"a": 8, "b": 8}),
]


@pytest.mark.parametrize(("what", "leave", "step", "outcome", "kept"), ROWS,
                         ids=[r[0] for r in ROWS])  # fmt: skip
def test_the_keepers_nodes_follow_the_drain_before_a_later_pod_is_decided(
    ext, clock, what, leave, step, outcome, kept
) -> None:
    _setup(ext, leave)
    clock.t += 0.001
    assert step(ext) == outcome, what
    assert ext.gangs.keep is not None and ext.gangs.keep.gang == K, what
    assert dict(ext.gangs.keep.nodes) == kept, what


def test_the_keep_follows_once_per_departure(ext, clock, monkeypatch) -> None:
    # The capacity pass runs at the first filter after the departure only: K's failure is
    # recorded there, so the next filters (before any other room comes back) read that
    # record and choose nothing again. z leaves c; three later single pods are filtered.
    import scheduler.state.drain_nodes as drain_nodes

    calls = []
    real = drain_nodes.drain_budgets

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    _setup(ext, "z")
    monkeypatch.setattr(drain_nodes, "drain_budgets", counting)
    clock.t += 0.001
    for i in range(3):
        s = pod_json(f"s{i}", {"nvidia.com/gpu": 8})
        ext.store.apply(event(s))
        assert ext.filter(s, NODES3).passed == []
    assert len(calls) == 1


def test_when_the_keeper_starts_the_keep_passes_to_the_first_waiting_gang(ext, clock) -> None:
    # K, then E, then L (2 x 8 each) wait; the pass keeps a and b for K. x and y leave: K
    # starts at its filter (a, b) and its keep ends. kube-scheduler then tries L first (its
    # queue's order; measured in run `fix1`: j00167 took the keep at its filter when j00142
    # started, while j00153, seen before it, waited, and j00156-train, which ranks between
    # them, took a node meanwhile). L's filter plans E first (E ranks before L, and its
    # failure was dropped when K's keep ended): E does not fit (c busy, a and b held by K's
    # plan) and, none being held, takes the keep: a and b (8 busy on each node: the order
    # given). L then ranks after the keeper: no keep for it. Before: E's failure was recorded
    # without choosing, and L took the keep.
    for n in NODES3:
        ext.store.apply(event(node_json(n, [gpu_json(i) for i in range(8)])))
    running = {"x": busy("x", "a", 8), "y": busy("y", "b", 8), "z": busy("z", "c", 8)}
    for p in running.values():
        ext.store.apply(event(p))
    k = add_gang(ext, "k", 2, 8)
    add_gang(ext, "e", 2, 8)
    late = add_gang(ext, "l", 2, 8)
    ext.recover_gangs()
    assert ext.gangs.keep is not None and ext.gangs.keep.gang == K
    for name in ("x", "y"):
        ext.store.apply(event(running[name], "DELETED"))
    clock.t += 0.001
    assert ext.filter(k[0], NODES3).gang_outcome == "planned"
    assert ext.gangs.keep is None  # K starts: its keep ends
    assert ext.filter(late[0], NODES3).gang_outcome == "failed"
    assert ext.gangs.keep is not None and ext.gangs.keep.gang == "default/e"
    assert dict(ext.gangs.keep.nodes) == {"a": 8, "b": 8}


def test_the_cached_counts_answer_what_each_nodes_view_answers(ext, clock) -> None:
    # The keep's nodes are chosen on every node's (free, busy) GPU counts; the coordinator
    # reuses a node's counts while the node and its allocations are the objects it counted.
    # After a pass (every node counted), z leaves c, a pod starts on a and K's plan fails:
    # every node's counts, cached or not, equal its view's.
    from scheduler.policy.gang import free_busy

    _setup(ext, "z")
    clock.t += 0.001
    ext.store.apply(event(busy("w", "c", 3)))
    snap = ext.store.snapshot(clock.t)
    count = ext.gangs.keep_nodes.counts(snap)
    for n in NODES3:
        assert count(n) == free_busy(snap.capacity(n)), n
    assert {n: count(n) for n in NODES3} == {"a": (0, 8), "b": (0, 8), "c": (5, 3)}
    again = ext.gangs.keep_nodes.counts(snap)
    assert again("a") == (0, 8)  # a hit (a and x are the objects counted)
