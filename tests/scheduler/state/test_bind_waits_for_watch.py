"""A bind of a pod the watch has not delivered yet waits for it (`Extender._await_pod`).

kube-scheduler filters and binds a pod created milliseconds earlier; the filter needs no
store, the bind does. Measured in 4 of 7 real Tiresias runs (benchmarks/RESULTS.md, Digital
twin, round 7): "pod default/t032-1 is unknown to the extender (not seen by its watch)", 1.5 ms
wall after its creation; kube-scheduler then backed it off 1.7 s wall (34 trace s).
"""

from __future__ import annotations

import threading
import time

import pytest

from scheduler.state.extender import Extender, Timing
from scheduler.state.store import ClusterStore
from tests.builders import event, gpu_json, node_json, pod_json
from tests.scheduler.state.conftest import Clock, RecordingBinder


def _ext(wait_s: float, binder: RecordingBinder) -> Extender:
    ext = Extender(ClusterStore(), binder, clock=Clock(),
                   timing=Timing(bind_wait_s=wait_s))  # fmt: skip
    for n in ("a", "b"):
        ext.store.apply(event(node_json(n, [gpu_json(0), gpu_json(1)])))
    return ext


# (the watch delivers the pod after this many seconds (None: never), the bind's wait, the
# reply: "" bound, else the error's words).
ROWS = [
    (0.05, 1.0, ""),  # arrives 50 ms into a 1 s wait: bound
    (None, 0.1, "unknown to the extender"),  # never arrives: the clear error after 0.1 s
    (0.3, 0.1, "unknown to the extender"),  # arrives after the wait: the error
    (0.05, 0.0, "unknown to the extender"),  # no wait (the extender before round 7)
]


@pytest.mark.parametrize(("arrives", "wait_s", "reply"), ROWS)
def test_a_bind_waits_for_the_watch_to_deliver_the_pod(
    arrives: float | None, wait_s: float, reply: str
) -> None:
    binder = RecordingBinder()
    ext = _ext(wait_s, binder)
    pod = pod_json("late", {"nvidia.com/gpu": 1})
    # The filter reads the request alone; two nodes pass, so nothing is reserved for it.
    assert ext.filter(pod, ["a", "b"]).passed == ["a", "b"]
    if arrives is not None:
        threading.Timer(arrives, lambda: ext.store.apply(event(pod))).start()
    t0 = time.monotonic()
    got = ext.bind("late", "default", "uid-default-late", "a")
    took = time.monotonic() - t0
    if reply:
        assert reply in got and "\n" not in got
        assert took >= wait_s
    else:
        assert got == "" and len(binder.calls) == 1
        assert took < wait_s
    time.sleep(0.35)  # let a late Timer finish before the next row


def test_binds_beyond_bind_waiters_answer_at_once() -> None:
    # bind_waiters 2, wait 0.5 s: two binds of pods nobody created wait their 0.5 s (each holds
    # a server thread); a third, while they wait, answers at once with the same clear error,
    # so a burst of such binds cannot occupy the thread pool.
    binder = RecordingBinder()
    ext = Extender(ClusterStore(), binder, clock=Clock(),
                   timing=Timing(bind_wait_s=0.5, bind_waiters=2))  # fmt: skip
    out: dict[str, tuple[str, float]] = {}

    def bind(name: str) -> None:
        t0 = time.monotonic()
        got = ext.bind(name, "default", f"uid-default-{name}", "a")
        out[name] = (got, time.monotonic() - t0)

    waiting = [threading.Thread(target=bind, args=(f"ghost{i}",)) for i in range(2)]
    for t in waiting:
        t.start()
    time.sleep(0.1)  # both are inside their wait now
    bind("third")
    for t in waiting:
        t.join()
    got, took = out["third"]
    assert "unknown to the extender" in got and took < 0.25
    for i in range(2):
        got, took = out[f"ghost{i}"]
        assert "unknown to the extender" in got and took >= 0.5
    assert binder.calls == []
    bind("after")  # the waits ended: the next one waits again
    assert out["after"][1] >= 0.5
