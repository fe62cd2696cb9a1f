"""The Binding's URL (round 10): a pod's name and namespace are path segments, never a path.
`RecordingRest` stands in for `KubeRest` and records the request it is asked to send."""

from __future__ import annotations

from typing import Any

from scheduler.kube.binder import KubeBinder
from scheduler.policy.model import GpuGrant, Placement
from scheduler.state import placement as placement_codec


class RecordingRest:
    """Stand-in for KubeRest: records (method, path, body), sends nothing."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, Any]] = []

    def request(self, method: str, path: str, body: Any = None, **_: Any) -> Any:
        self.sent.append((method, path, body))
        return {}


def test_a_name_with_slashes_stays_inside_the_pods_path() -> None:
    """Was POST /api/v1/namespaces/d/pods/a/../../x/binding for a name the wire now refuses
    too, but any other caller of the Binder could still hand on."""
    rest = RecordingRest()
    binder = KubeBinder(rest, encode=placement_codec.encode)  # type: ignore[arg-type]
    binder.bind("d", "a/../../x", "U", "n", Placement("n", (GpuGrant(0, "GPU-0"),)))
    assert rest.sent[0][1] == "/api/v1/namespaces/d/pods/a%2F..%2F..%2Fx/binding"
    binder.bind("default", "train-0", "U", "n", Placement("n", (GpuGrant(0, "GPU-0"),)))
    assert rest.sent[1][1] == "/api/v1/namespaces/default/pods/train-0/binding"  # unchanged
