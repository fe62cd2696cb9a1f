"""Binds racing each other and the watch (round 10), over the real `Extender` and
`ClusterStore`. The one stand-in is `GateBinder`, which records binds and holds the first one
until the test opens its gate, to make the race happen every time."""

from __future__ import annotations

import threading

from scheduler.policy.model import Placement
from scheduler.state.extender import Extender
from scheduler.state.store import ClusterStore
from tests.builders import gpu_json, node_json, pod_json


class GateBinder:
    """Stand-in Binder: records each bind; the first waits until `gate` is set."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.binds: list[tuple[str, str]] = []

    def bind(self, namespace: str, name: str, uid: str, node: str, placement: Placement) -> None:
        first = not self.binds
        self.binds.append((uid, node))
        if first:
            self.entered.set()
            assert self.gate.wait(10)


def two_nodes() -> tuple[ClusterStore, Extender, GateBinder]:
    store = ClusterStore()
    store.replace([node_json("a", [gpu_json(0)]), node_json("b", [gpu_json(0)]),
                   pod_json("p", {"nvidia.com/gpu": "1"})])  # fmt: skip
    binder = GateBinder()
    return store, Extender(store, binder, clock=lambda: 100.0), binder


def test_the_same_pod_bound_twice_at_once_is_bound_once() -> None:
    """Before: the second bind (to b) replaced the first's hold (on a) and both reached the
    Binder, so one pod was bound on two nodes as far as the Binder was asked."""
    store, ext, binder = two_nodes()
    answers: list[str] = []
    first = threading.Thread(
        target=lambda: answers.append(ext.bind("p", "default", "uid-default-p", "a"))
    )
    first.start()
    assert binder.entered.wait(10)
    second = ext.bind("p", "default", "uid-default-p", "b")
    binder.gate.set()
    first.join(10)
    assert answers == [""] and "being bound already" in second and "\n" not in second
    assert binder.binds == [("uid-default-p", "a")]
    held = store.ledger.get("uid-default-p", 100.0)
    assert held is not None and held.placement.node == "a"  # the hold is the bound node's


def test_a_bind_racing_the_pods_deletion_leaves_nothing_held() -> None:
    store, ext, binder = two_nodes()
    pod = pod_json("p", {"nvidia.com/gpu": "1"})
    done: list[str] = []
    t = threading.Thread(target=lambda: done.append(ext.bind("p", "default", "uid-default-p", "a")))
    t.start()
    assert binder.entered.wait(10)
    store.delete_pod(pod)  # the watch's DELETED while the Binding is in flight
    binder.gate.set()
    t.join(10)
    assert done == [""] and store.ledger.get("uid-default-p", 100.0) is None
    assert not store.snapshot(100.0).allocations


def test_a_bind_whose_uid_names_another_pod_is_refused_naming_both() -> None:
    """Was decided on the UID's pod: 'pod default/p is already bound to node a' for a pod
    that was not bound, or a hold sized by the other pod's request."""
    store, ext, binder = two_nodes()
    store.upsert_pod(pod_json("q", {"nvidia.com/gpu": "1"}, node="a", phase="Running"))
    err = ext.bind("p", "default", "uid-default-q", "b")
    assert err == "PodUID uid-default-q is pod default/q's, not default/p's" and not binder.binds


def test_a_bind_to_an_unknown_node_says_so() -> None:
    """Was 'no longer fits on node \\x00: its GPUs were taken'."""
    _, ext, binder = two_nodes()
    err = ext.bind("p", "default", "uid-default-p", "\x00")
    assert err == "node '\\x00' is unknown to the extender (not seen by its watch)"
    assert not binder.binds


def test_filters_for_pods_nobody_created_hold_their_gpus_only_briefly() -> None:
    """32 filters for made-up one-GPU pods, each naming one node, held all 32 GPUs of the
    cluster for `reservation_ttl_s` (30 s): every real pod's filter meanwhile failed. A pod
    the watch has not delivered is held at most `unwatched_ttl_s` (5 s)."""
    now = [100.0]
    store = ClusterStore()
    store.replace([node_json(f"n{i}", [gpu_json(g) for g in range(8)]) for i in range(4)])
    ext = Extender(store, GateBinder(), clock=lambda: now[0])
    for i in range(32):
        assert ext.filter(pod_json(f"fake{i}", {"nvidia.com/gpu": "1"}), [f"n{i % 4}"]).passed
    real = pod_json("real", {"nvidia.com/gpu": "1"})
    store.upsert_pod(real)
    assert ext.filter(real, ["n0"]).passed == []  # all 32 held now
    now[0] = 106.0  # 6 s later: the unwatched holds lapsed (they held until 130 before)
    r = ext.filter(real, ["n0"])
    assert r.passed == ["n0"] and r.reserved is not None
    held = ext.store.ledger.get("uid-default-real", now[0])
    assert held is not None and held.expires_at == 106.0 + 30.0  # a watched pod: the full TTL


class ListBinder:
    """Stand-in Binder: records every bind with its placement, thread-safely."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.binds: list[tuple[str, str, Placement]] = []

    def bind(self, namespace: str, name: str, uid: str, node: str, placement: Placement) -> None:
        with self.lock:
            self.binds.append((uid, node, placement))


def test_six_threads_filtering_and_binding_never_double_book() -> None:
    """Invariant: whatever order concurrent filters and binds (and a second bind of the same
    pod to another node) run in, no GPU is bound to two pods and no pod is bound twice."""
    store = ClusterStore()
    store.replace([node_json(f"n{i}", [gpu_json(g) for g in range(8)]) for i in range(4)])
    pods = [pod_json(f"p{i}", {"nvidia.com/gpu": str(1 + i % 3 // 2)}) for i in range(120)]
    for p in pods:
        store.upsert_pod(p)
    binder = ListBinder()
    ext = Extender(store, binder, clock=lambda: 100.0)
    names = [f"n{i}" for i in range(4)]

    def work(k: int) -> None:
        for j, p in enumerate(pods[k::6]):
            passed = ext.filter(p, names).passed
            if passed:
                uid = p["metadata"]["uid"]
                ext.bind(p["metadata"]["name"], "default", uid, passed[j % len(passed)])
                ext.bind(p["metadata"]["name"], "default", uid, names[(j + k) % 4])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    owner: dict[tuple[str, int], str] = {}
    for uid, node, placement in binder.binds:
        for g in placement.gpus:
            assert owner.setdefault((node, g.index), uid) == uid  # one pod per GPU
    uids = [uid for uid, _, _ in binder.binds]
    assert len(uids) == len(set(uids)) and len(owner) <= 32
