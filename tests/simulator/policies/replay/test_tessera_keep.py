"""The tessera replay keeps the same nodes for a waiting gang as the live extender does.

Same cluster, same pods, both paths: a 6-GPU node a (idle) and an 8-GPU node b with 7 GPUs
busy; a gang of 2 x 4 GPUs cannot start (a hosts one member, b has 1 free). Both keep 4 GPUs of
a (0 busy to wait for) and 4 of b (3 busy): a 1-GPU pod still goes on a (6 - 1 = 5 >= 4 stay
free), a 3-GPU pod does not (6 - 3 = 3 < 4). The extender side is
tests/scheduler/state/test_gang_keep.py::test_a_kept_node_takes_pods_that_leave_its_budget_free.
"""

from __future__ import annotations

from scheduler.policy.model import GpuRequest
from scheduler.state.extender import Extender
from scheduler.state.store import ClusterStore
from simulator.policies.replay.tessera import TesseraPolicy
from simulator.workloads.model import JobSpec, NodeSpec, TaskSpec
from tests.builders import H100, event, gpu_json, node_json, pod_json

GIB = 1 << 30
NODES = (NodeSpec("a", "H100-80GB", 6, 128_000, 1024 * GIB),
         NodeSpec("b", "H100-80GB", 8, 128_000, 1024 * GIB))  # fmt: skip


def _job(uid: str, gpus: int, pods: int = 1) -> JobSpec:
    return JobSpec(uid, 0.0, 1_000.0, TaskSpec(0, 0, GpuRequest("whole", count=gpus)), pods, pods)


def _replay_keep() -> tuple[dict[str, int], dict[str, str]]:
    policy = TesseraPolicy(NODES)
    policy.submit(_job("busy", 7), 0.0)  # only b has 7 GPUs
    assert [s.node for s in policy.schedule(0.0)] == ["b"]
    policy.submit(_job("gang", 4, pods=2), 1.0)
    assert policy.schedule(1.0) == []
    assert policy._kept is not None and policy._kept[0] == "gang"
    policy.submit(_job("one", 1), 2.0)
    policy.submit(_job("three", 3), 2.0)
    starts = {s.job: s.node for s in policy.schedule(2.0)}
    return dict(policy._kept[1]), starts


def _live_keep() -> tuple[dict[str, int], dict[str, str]]:
    ext = Extender(ClusterStore(), None, clock=lambda: 0.0)
    ext.store.apply(event(node_json("a", [gpu_json(i, model=H100) for i in range(6)])))
    ext.store.apply(event(node_json("b", [gpu_json(i, model=H100) for i in range(8)])))
    ext.store.apply(event(pod_json("busy", {"nvidia.com/gpu": 7}, node="b", phase="Running")))
    group = {"scheduling.x-k8s.io/pod-group": "gang"}
    two = {"tessera.io/gang-min-member": "2"}
    gang = [pod_json(f"g{i}", {"nvidia.com/gpu": 4}, labels=group, annotations=two)
            for i in range(2)]
    for m in gang:
        ext.store.apply(event(m))
    assert ext.filter(gang[0], ["a", "b"]).gang_outcome == "failed"
    starts = {}
    for name, gpus in (("one", 1), ("three", 3)):
        p = pod_json(name, {"nvidia.com/gpu": gpus})
        ext.store.apply(event(p))
        passed = ext.filter(p, ["a", "b"]).passed
        if passed:
            starts[name] = passed[0]
    assert ext.gangs.keep is not None
    return dict(ext.gangs.keep.nodes), starts


def test_replay_and_extender_keep_the_same_budgets_and_admit_the_same_pods() -> None:
    replay_keep, replay_starts = _replay_keep()
    live_keep, live_starts = _live_keep()
    assert replay_keep == live_keep == {"a": 4, "b": 4}
    assert replay_starts == live_starts == {"one": "a"}


def test_replay_scores_single_pods_with_the_demand_seen_so_far(monkeypatch) -> None:
    """As the extender's views carry its DemandLog's mix (scheduler.policy.demand), the replay
    counts every pod it tries once and hands the mix to single-pod decisions; gang plans use
    the plain snapshot, as the live GangCoordinator does."""
    from simulator.cluster.state import SimCluster

    seen: list[object] = []
    real = SimCluster.snapshot

    def spy(self: SimCluster, now: float, demand: object = None) -> object:
        seen.append(demand)
        return real(self, now, demand)  # type: ignore[arg-type]

    monkeypatch.setattr(SimCluster, "snapshot", spy)
    policy = TesseraPolicy(NODES)
    for i in range(3):
        policy.submit(_job(f"one-{i}", 1), float(i))
    policy.submit(_job("gang", 2, pods=2), 3.0)
    assert len(policy.schedule(3.0)) == 5
    assert policy.demand.mix().pods == 5  # 3 singles + 2 gang members, each once
    policy.schedule(4.0)  # nothing new: nobody counted twice
    assert policy.demand.mix().pods == 5
    assert any(d is not None for d in seen)  # single pods were scored with a mix
