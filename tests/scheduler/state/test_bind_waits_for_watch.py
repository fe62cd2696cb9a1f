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
