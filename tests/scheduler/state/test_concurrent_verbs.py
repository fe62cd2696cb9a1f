"""Six threads at once: filters and binds of single pods and gang members, deletions through the
watch, prioritize, explain, the expiry and gang passes, on a 4 x 8-GPU cluster. Nothing may
raise, and no GPU may be held by two pods. The first run of this stress found two gangs
recursing in `earlier_first` (`test_gang_rank_drift.py`): 529 of its 1,800 operations raised.

`WatchLoopBinder` is a stand-in for the apiserver plus the Pod watch: a bind folds the pod,
bound with its `tessera.io/placement`, into the store, as the watch would deliver it."""

from __future__ import annotations

import contextlib
import random
import threading
import traceback
from typing import Any

from scheduler.policy.capacity import NodeCapacity
from scheduler.policy.model import Placement
from scheduler.state import placement as placement_codec
from scheduler.state.errors import UnknownPodError
from scheduler.state.extender import Extender, Timing
from scheduler.state.store import ClusterStore
from tests.builders import event, gang_member_json, gpu_json, node_json, pod_json

NODES = ["a", "b", "c", "d"]


class WatchLoopBinder:
    """Stand-in for the apiserver and the watch: a bind shows up at once as a bound pod."""

    def __init__(self, store: ClusterStore) -> None:
        self.store = store
        self.pods: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()

    def bind(self, namespace: str, name: str, uid: str, node: str, placement: Placement) -> None:
        with self.lock:
            obj = self.pods.get(uid)
        if obj is None:
            return
        bound = {**obj, "spec": {**obj["spec"], "nodeName": node}, "status": {"phase": "Running"}}
        annotations = {**obj["metadata"]["annotations"],
                       placement_codec.ANNOTATION: placement_codec.encode(placement)}  # fmt: skip
        bound["metadata"] = {**obj["metadata"], "annotations": annotations}
        self.store.apply(event(bound, "MODIFIED"))


def worker(ext: Extender, binder: WatchLoopBinder, seed: int, errors: list[str]) -> None:
    rnd = random.Random(seed)
    for k in range(300):
        name = f"t{seed}p{k % 20}"
        uid = f"uid-default-{name}"
        try:
            roll = rnd.random()
            if roll < 0.45:
                if roll < 0.3:
                    p = pod_json(name, {"nvidia.com/gpu": str(rnd.choice([1, 2, 4]))})
                else:
                    p = gang_member_json(name, {"nvidia.com/gpu": "4"}, f"g{seed}", 2)
                with binder.lock:
                    binder.pods[uid] = p
                ext.store.apply(event(p))
                res = ext.filter(p, NODES)
                assert res.error == "", res.error
                if res.passed:
                    ext.bind(name, "default", uid, rnd.choice(res.passed))
            elif roll < 0.65:
                ext.store.apply(event(pod_json(name, {}), "DELETED"))
            elif roll < 0.75:
                ext.prioritize(pod_json(name, {"nvidia.com/gpu": "1"}), NODES)
            elif roll < 0.85:
                with contextlib.suppress(UnknownPodError):  # deleted meanwhile
                    ext.explain(f"default/{name}")
            else:
                ext.expire()
                ext.recover_gangs()
        except Exception:  # noqa: BLE001 -- every failure is collected and reported
            errors.append(traceback.format_exc(limit=4))


def test_six_threads_of_verbs_raise_nothing_and_book_no_gpu_twice() -> None:
    store = ClusterStore()
    binder = WatchLoopBinder(store)
    ext = Extender(store, binder, timing=Timing(bind_wait_s=0.0))
    for n in NODES:
        store.apply(event(node_json(n, [gpu_json(i) for i in range(8)])))
    errors: list[str] = []
    threads = [threading.Thread(target=worker, args=(ext, binder, i, errors)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    snap = store.snapshot(ext.clock())
    for n in NODES:
        cap = NodeCapacity.build(snap.nodes[n], snap.allocations_on(n))
        assert cap.overbooked == [], (n, cap.overbooked)
    assert store.rejected_annotations == 0  # no bind wrote GPUs another pod held
