"""`choose_in_filter`: filter passes a GPU pod only the node prioritize would rank first, and
reserves its GPUs there, so kube-scheduler (one feasible node) skips the prioritize call."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.api.metrics import reason_label
from scheduler.policy.framework import run_scores
from scheduler.state.extender import Extender
from scheduler.state.store import ClusterStore
from tests.builders import event, gpu_json, node_json, pod_json
from tests.scheduler.state.conftest import Clock, RecordingBinder


def chooser(clock: Clock | None = None, choose: bool = True) -> Extender:
    return Extender(ClusterStore(), RecordingBinder(), clock=clock or Clock(),
                    choose_in_filter=choose)  # fmt: skip


def add(ext: Extender, *objs: dict) -> None:
    for o in objs:
        ext.store.apply(event(o))


def test_filter_passes_the_best_node_and_reserves_it() -> None:
    ext = chooser()
    add(ext, node_json("a", [gpu_json(0), gpu_json(1)]), node_json("b", [gpu_json(0), gpu_json(1)]))
    add(ext, pod_json("o", {"nvidia.com/gpu": 1}, node="a", phase="Running"))
    p = pod_json("p", {"nvidia.com/gpu": 1})
    add(ext, p)
    # Without the option both pass and prioritize ties at 0..10; on its 0..100 levels a wins
    # (Binpack: a 1.0, b 0.5 -> (0.5 + 0.3 + 0.27 + 0.1) / 1.7 = 69 vs 66, see
    # test_extender.py::test_prioritize_leaves_a_fragmentation_tie_to_kube_scheduler).
    r = ext.filter(p, ["a", "b"])
    assert r.passed == ["a"]
    why = "choose_in_filter: tessera chose node a for this pod"
    # b passed every filter: it is kept apart from the failures, so the reply can leave it
    # out of FailedNodes (tests/scheduler/api/test_choose_reply.py), yet reads as failed.
    assert r.chosen_away == {"b": why} and "b" not in r.failed
    assert r["b"].message == why and r["b"].code.name == "UNSCHEDULABLE"
    assert reason_label(why) == "choose_in_filter"  # its own failures label
    assert r.reserved is not None and [g.index for g in r.reserved.gpus] == [1]  # GPU 0 is o's
    # The next pod sees a's last GPU held: only b can take it.
    q = pod_json("q", {"nvidia.com/gpu": 1})
    add(ext, q)
    rq = ext.filter(q, ["a", "b"])
    assert rq.passed == ["b"] and "free whole GPU" in rq.failed["a"]
    # kube-scheduler binds the node it was given; the reservation is confirmed, not redone.
    assert ext.bind("p", "default", "uid-default-p", "a") == ""
    assert ext.binder.calls[0][3:] == ("a", r.reserved)  # type: ignore[union-attr]


def test_pods_without_gpus_and_gang_members_are_left_to_kube_scheduler() -> None:
    ext = chooser()
    add(ext, node_json("a", [gpu_json(0)]), node_json("b", [gpu_json(0)]))
    cpu = pod_json("c", {"cpu": "1"})
    assert ext.filter(cpu, ["a", "b"]).passed == ["a", "b"]
    gang, min2 = {"scheduling.x-k8s.io/pod-group": "g"}, {"tessera.io/gang-min-member": "2"}
    members = [pod_json(f"m{i}", {"nvidia.com/gpu": 1}, labels=gang, annotations=min2)
               for i in range(2)]  # fmt: skip
    add(ext, *members)
    assert sorted(ext.filter(members[0], ["a", "b"]).passed) == ["a", "b"]  # the gang's plan


@settings(max_examples=40, deadline=None)
@given(
    free=st.lists(st.integers(1, 4), min_size=2, max_size=5),  # GPUs per node
    used=st.lists(st.integers(0, 3), min_size=5, max_size=5),  # busy GPUs per node
    asks=st.lists(st.integers(1, 3), min_size=1, max_size=12),  # GPUs per pending pod
)
def test_the_chosen_node_is_prioritizes_best_and_no_gpu_is_given_twice(
    free: list[int], used: list[int], asks: list[int]
) -> None:
    ext = chooser()
    # The same store (cluster, holds) read without the option: what kube-scheduler would get.
    plain = Extender(ext.store, RecordingBinder(), clock=ext.clock)
    names = [f"n{i}" for i in range(len(free))]
    for i, (name, k) in enumerate(zip(names, free, strict=True)):
        add(ext, node_json(name, [gpu_json(j) for j in range(k)]))
        for j in range(min(used[i], k - 1)):
            add(ext, pod_json(f"busy-{name}-{j}", {"nvidia.com/gpu": 1}, node=name,
                              phase="Running"))  # fmt: skip
    taken: set[tuple[str, int]] = set()
    for i, k in enumerate(asks):
        p = pod_json(f"p{i}", {"nvidia.com/gpu": k})
        add(ext, p)
        want = plain.filter(p, names).passed  # reserves only when one node passes
        got = ext.filter(p, names)
        if len(want) <= 1:
            assert got.passed == want  # nothing to choose: the same answer
        else:  # the chosen node is one prioritize ranks first on the 0..100 scale
            req = ext._pod(p)
            levels = run_scores(ext.view(req, ext.clock()), req, want, ext.profile).levels
            assert levels is not None
            (best,) = got.passed
            assert levels[want.index(best)] == max(levels)
        if got.passed:
            assert got.reserved is not None and got.reserved.node == got.passed[0]
            grants = {(got.reserved.node, g.index) for g in got.reserved.gpus}
            assert len(grants) == k and not grants & taken  # never double-booked
            taken |= grants
