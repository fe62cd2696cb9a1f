"""The tessera replay's speed-ups change no decision: the same pods start on the same nodes
with the same GPUs, at the same instants, with and without them.

The speed-ups: the free-whole-GPU count that proves a gang infeasible before any search
(`packing.gang.bound.whole_gpu_shortfall`), the per-gang memo of where members land on
drained nodes (`drain_budgets(memo=...)`), and the fleet index carried from snapshot to
snapshot (reused when nothing changed, its per-row memos inherited). Switched off, every gang
goes to the planner, every drained node is tried again and every snapshot builds its index
from scratch.
"""

from __future__ import annotations

import pytest

import packing.gang.planner as planner
import simulator.policies.replay.tessera as tessera_policy
from scheduler.policy.fleet_index import FleetIndex
from scheduler.policy.model import ClusterState
from simulator.policies.replay.registry import REPLAY_POLICIES
from simulator.replay.driver import replay
from simulator.workloads.synthetic import generate


def _run(jobs: int) -> tuple[list[tuple[object, ...]], dict[str, int]]:
    """Every start of a tessera replay (instant, job, task, node, GPUs held, MIG created)."""
    w = generate(0, jobs, nodes=12, mig_nodes=3, mean_interarrival_s=200.0)
    policy = REPLAY_POLICIES["tessera"](w, 0)
    starts: list[tuple[object, ...]] = []
    schedule = policy.schedule

    def recorded(now: float) -> list:
        out = schedule(now)
        starts.extend((now, s.job, s.task, s.node, s.held_milli, s.reconfigured) for s in out)
        return out

    policy.schedule = recorded  # type: ignore[method-assign]
    replay(w, policy, seed=0)
    return starts, dict(policy.gang_plans)


def test_tessera_replay_places_the_same_with_and_without_its_speed_ups(
        monkeypatch: pytest.MonkeyPatch) -> None:
    shortfalls: list[str] = []
    counted = planner.whole_gpu_shortfall

    def counting(st, members):  # type: ignore[no-untyped-def]
        shortfalls.append(counted(st, members))
        return shortfalls[-1]

    monkeypatch.setattr(planner, "whole_gpu_shortfall", counting)
    fast, fast_plans = _run(300)
    assert any(shortfalls), "the workload must exercise the shortcut"
    assert fast_plans.get("infeasible", 0) > 0 and fast_plans.get("optimal", 0) > 0

    monkeypatch.setattr(planner, "whole_gpu_shortfall", lambda st, members: "")
    drain = tessera_policy.gang_drain_targets
    monkeypatch.setattr(tessera_policy, "gang_drain_targets",
                        lambda cluster, members, now, profile, memo=None:
                        drain(cluster, members, now, profile, None))

    def fresh_fleet(self: ClusterState) -> FleetIndex:
        idx = self._fleet.get("fleet")
        if idx is None:
            idx = self._fleet["fleet"] = FleetIndex.build(self.capacity(n) for n in self.nodes)
        return idx

    monkeypatch.setattr(ClusterState, "fleet", fresh_fleet)
    slow, slow_plans = _run(300)
    assert len(fast) > 300
    assert fast == slow
    assert fast_plans == slow_plans
