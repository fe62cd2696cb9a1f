"""The tessera replay's speed-ups change no decision: the same pods start on the same nodes
with the same GPUs, at the same instants, with and without them.

The speed-ups: the free-whole-GPU count that proves a gang infeasible before any search
(`packing.gang.bound.whole_gpu_shortfall` in the planner, `scheduler.policy.gang._whole_shortfall`
before the filters), the per-gang memo of where members land on drained nodes
(`drain_budgets(memo=...)`), the last drain answer reused while no pod bound or left, values
derived once per capacity view (`NodeCapacity.derive`: the planner's node slots, free/busy GPU
counts), and the simulator's own fleet index, its touched rows recomputed in place per snapshot
(its per-row memos kept). Switched off, every gang goes to the filters and the planner,
every drained node is tried again, every derived value is made again and every snapshot builds
its index from scratch.
"""

from __future__ import annotations

import pytest

import packing.gang.planner as planner
import scheduler.policy.gang as policy_gang
import simulator.policies.replay.tessera as tessera_policy
from scheduler.policy.capacity import NodeCapacity
from scheduler.policy.fleet_index import FleetIndex
from scheduler.policy.model import ClusterState
from simulator.policies.replay.registry import REPLAY_POLICIES
from simulator.replay.driver import replay
from simulator.workloads.synthetic import generate


class _Forgetful(dict):  # type: ignore[type-arg]
    """A memo that never answers (the policy's last-drain store, switched off)."""

    def get(self, key, default=None):  # type: ignore[no-untyped-def]
        return default


class _Counting(dict):  # type: ignore[type-arg]
    """The policy's last-drain store, counting the answers reused (same change count)."""

    def __init__(self, cluster: object) -> None:
        super().__init__()
        self.cluster, self.reused = cluster, 0

    def get(self, key, default=None):  # type: ignore[no-untyped-def]
        got = super().get(key, default)
        self.reused += got is not None and got[0] == self.cluster.changes  # type: ignore[attr-defined]
        return got


REUSED: list[int] = []


def _run(jobs: int, fast: bool = True) -> tuple[list[tuple[object, ...]], dict[str, int]]:
    """Every start of a tessera replay (instant, job, task, node, GPUs held, MIG created)."""
    w = generate(0, jobs, nodes=12, mig_nodes=3, mean_interarrival_s=200.0)
    policy = REPLAY_POLICIES["tessera"](w, 0)
    store = _Counting(policy.cluster) if fast else _Forgetful()  # type: ignore[attr-defined]
    policy._drain_last = store  # type: ignore[attr-defined]
    starts: list[tuple[object, ...]] = []
    schedule = policy.schedule

    def recorded(now: float) -> list:
        out = schedule(now)
        starts.extend((now, s.job, s.task, s.node, s.held_milli, s.reconfigured) for s in out)
        return out

    policy.schedule = recorded  # type: ignore[method-assign]
    replay(w, policy, seed=0)
    if fast:
        REUSED.append(store.reused)
    return starts, dict(policy.gang_plans)


def test_tessera_replay_places_the_same_with_and_without_its_speed_ups(
        monkeypatch: pytest.MonkeyPatch) -> None:
    shortfalls: list[str] = []
    counted = policy_gang._whole_shortfall

    def counting(state, members, names):  # type: ignore[no-untyped-def]
        shortfalls.append(counted(state, members, names))
        return shortfalls[-1]

    derived: list[object] = []
    derive = NodeCapacity.derive

    def counting_derive(self, key, compute):  # type: ignore[no-untyped-def]
        derived.append(key in (self.derived or {}))
        return derive(self, key, compute)

    monkeypatch.setattr(policy_gang, "_whole_shortfall", counting)
    monkeypatch.setattr(NodeCapacity, "derive", counting_derive)
    fast, fast_plans = _run(300)
    assert any(shortfalls), "the workload must exercise the shortcut"
    assert any(derived), "some derived values must be reused"
    assert REUSED[-1] > 0, "some drain answers must be reused"
    assert fast_plans.get("infeasible", 0) > 0 and fast_plans.get("optimal", 0) > 0

    monkeypatch.setattr(planner, "whole_gpu_shortfall", lambda st, members: "")
    monkeypatch.setattr(policy_gang, "_whole_shortfall", lambda state, members, names: "")
    monkeypatch.setattr(NodeCapacity, "derive", lambda self, key, compute: compute(self))
    drain = tessera_policy.gang_drain_targets
    monkeypatch.setattr(tessera_policy, "gang_drain_targets",
                        lambda cluster, members, now, profile, memo=None:
                        drain(cluster, members, now, profile, None))

    def fresh_fleet(self: ClusterState) -> FleetIndex:  # ignores the cluster's own index
        idx = self._fleet.get("fresh")
        if idx is None:
            idx = self._fleet["fresh"] = FleetIndex.build(self.capacity(n) for n in self.nodes)
        return idx

    monkeypatch.setattr(ClusterState, "fleet", fresh_fleet)
    slow, slow_plans = _run(300, fast=False)
    assert len(fast) > 300
    assert fast == slow
    assert fast_plans == slow_plans
