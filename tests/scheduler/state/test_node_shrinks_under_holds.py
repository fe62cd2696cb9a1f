"""A node's GPU inventory changes while decisions on it are held (a GPU fails and leaves the
agent's annotation, a node is re-imaged with fewer GPUs): a hold made before must not be bound
as it was. The Binder wrote `tessera.io/placement` naming GPU 7 of a node that had 4 GPUs left,
so 8 one-GPU pods were bound to 4 GPUs."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.state.extender import Extender, Timing
from scheduler.state.store import ClusterStore
from tests.builders import event, gang_member_json, gpu_json, node_json, pod_json
from tests.scheduler.state.conftest import Clock, RecordingBinder

ONE = {"nvidia.com/gpu": "1"}


def cluster(gpus: int) -> tuple[Extender, RecordingBinder]:
    store = ClusterStore()
    binder = RecordingBinder()
    ext = Extender(store, binder, clock=Clock(), timing=Timing(bind_wait_s=0.0))
    store.apply(event(node_json("a", [gpu_json(i) for i in range(gpus)])))
    return ext, binder


def shrink(ext: Extender, gpus: int | range, uuid_shift: int = 0) -> None:
    docs = [gpu_json(i) for i in (range(gpus) if isinstance(gpus, int) else gpus)]
    for d in docs:
        d["uuid"] = f"GPU-{d['index'] + uuid_shift:04d}"
    ext.store.apply(event(node_json("a", docs), "MODIFIED"))


def bound_indices(binder: RecordingBinder) -> list[int]:
    return [g.index for *_, p in binder.calls for g in p.gpus]


def test_holds_on_gpus_the_node_lost_are_not_bound() -> None:
    ext, binder = cluster(8)
    for i in range(8):
        ext.store.apply(event(pod_json(f"p{i}", ONE)))
        assert ext.filter(pod_json(f"p{i}", ONE), ["a"]).passed == ["a"]  # each held
    shrink(ext, 4)
    answers = [ext.bind(f"p{i}", "default", f"uid-default-p{i}", "a") for i in range(8)]
    indices = bound_indices(binder)
    assert all(i < 4 for i in indices), indices  # no GPU the node does not have
    assert len(indices) == len(set(indices)) == 4  # four pods bound, one GPU each
    refused = [a for a in answers if a]
    assert len(refused) == 4 and all("no longer fits on node a" in a for a in refused)


def test_a_hold_on_a_replaced_gpu_is_decided_again() -> None:
    """The node keeps 8 GPUs but GPU 0 is another board (a new UUID): the hold named the old
    one, so the bind decides again on what the node has now."""
    ext, binder = cluster(8)
    ext.store.apply(event(pod_json("p", ONE)))
    ext.filter(pod_json("p", ONE), ["a"])
    shrink(ext, 8, uuid_shift=100)
    assert ext.bind("p", "default", "uid-default-p", "a") == ""
    (grant,) = binder.calls[0][-1].gpus
    assert grant.uuid == f"GPU-{grant.index + 100:04d}"


def test_a_hold_for_an_unwatched_pod_on_a_lost_gpu_is_refused_and_released() -> None:
    ext, binder = cluster(8)
    for i in range(8):  # filters for pods the watch never delivered
        ext.filter(pod_json(f"p{i}", ONE), ["a"])
    shrink(ext, 2)
    answers = [ext.bind(f"p{i}", "default", f"uid-default-p{i}", "a") for i in range(8)]
    assert all(i < 2 for i in bound_indices(binder))
    assert sum(1 for a in answers if not a) == 2  # the holds on GPUs 0 and 1
    held = set(ext.store.ledger.live(1_000_000.0))  # the others' holds left with their GPUs
    assert held == {"uid-default-p0", "uid-default-p1"}


def test_a_gang_slot_on_a_lost_gpu_is_not_bound() -> None:
    """GPUs 0 and 1 leave the node and 8 and 9 arrive: the plan's slots on 0-3 must not be
    bound as planned (GPUs 0 and 1 are gone)."""
    ext, binder = cluster(8)
    members = [gang_member_json(f"m{i}", {"nvidia.com/gpu": "2"}, "g", 2) for i in range(2)]
    for m in members:
        ext.store.apply(event(m))
    assert ext.filter(members[0], ["a"]).gang_outcome == "planned"
    assert {g.index for s in ext.store.ledger.gang("default/g", 0.0 + 1e6).slots
            for g in s.gpus} == {0, 1, 2, 3}  # fmt: skip
    shrink(ext, range(2, 10))
    assert [ext.bind(f"m{i}", "default", f"uid-default-m{i}", "a") for i in range(2)] == ["", ""]
    indices = bound_indices(binder)
    assert set(indices) <= set(range(2, 10)), indices
    assert len(indices) == len(set(indices)) == 4


STEPS = st.lists(
    st.tuples(st.sampled_from(["filter", "bind", "shrink"]), st.integers(0, 9), st.integers(1, 8)),
    min_size=1,
    max_size=16,
)


@given(STEPS)
@settings(max_examples=80, deadline=None)
def test_whatever_the_node_becomes_no_bind_names_a_gpu_it_lacks_or_one_twice(
    steps: list[tuple[str, int, int]],
) -> None:
    """Filters, binds and inventory changes interleaved: every bind names GPUs the node has at
    that moment, and no GPU is bound to two pods (bound pods are never deleted here)."""
    ext, binder = cluster(8)
    gpus = 8
    for action, pod_no, new_gpus in steps:
        name = f"p{pod_no}"
        ext.store.apply(event(pod_json(name, ONE)))
        if action == "shrink":
            gpus = min(gpus, new_gpus)  # GPUs only leave: bound indices stay meaningful
            shrink(ext, gpus)
        elif action == "bind":
            before = len(binder.calls)
            ext.bind(name, "default", f"uid-default-{name}", "a")
            if len(binder.calls) > before:
                assert all(g.index < gpus for g in binder.calls[-1][-1].gpus)
        else:
            ext.filter(pod_json(name, ONE), ["a"])
    per_pod = {uid: p for _, _, uid, _, p in binder.calls}
    indices = [g.index for p in per_pod.values() for g in p.gpus]
    assert len(indices) == len(set(indices)), per_pod
