"""The real Binder: creates `pods/binding` and records `tessera.io/placement` on the pod.

The placement annotation rides on the Binding itself: kube-apiserver copies a Binding's
annotations onto the pod in the same write that sets `spec.nodeName` (the pods/binding
subresource's `assignPod` has done so since 2015), so a bound pod never lacks its placement and
one API write per bind is enough. An earlier version wrote the annotation again with a merge
patch; that second write per pod (an etcd write, a pod MODIFIED event for every watcher) was
dropped after tests/scheduler/kube/test_kube_real.py showed the copy on the real apiserver and
tests/e2e/test_throughput.py every pod annotated. The Binding carries the pod UID as a
precondition, so a pod deleted and recreated under the same name is never bound by a stale
decision. 409 Conflict (already bound, UID mismatch) and 404 become `BindError` with a clear
one-line reason; nothing is retried blindly.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from scheduler.kube.rest import KubeApiError, KubeRest
from scheduler.policy.model import Placement

PLACEMENT_ANNOTATION = "tessera.io/placement"


class BindError(Exception):
    """The Binding or the annotation write failed; the message says why, on one line."""


class KubeBinder:
    """Implements the facade's `Binder` Protocol. `scheduler.kube` may not import
    `scheduler.state` (sibling layers), so the CLI injects the placement encoder and the
    facade's error type to raise."""

    def __init__(
        self,
        rest: KubeRest,
        encode: Callable[[Placement], str],
        error: type[Exception] = BindError,
    ) -> None:
        self.rest = rest
        self.encode = encode
        self.error = error

    def bind(
        self, namespace: str, name: str, uid: str, node: str, placement: Placement | None
    ) -> None:
        """Bind pod `namespace/name` (UID `uid`) to `node`, recording `placement`."""
        text = None if placement is None else self.encode(placement)
        try:
            self._bind(namespace, name, uid, node, text)
        except BindError as exc:
            raise self.error(str(exc)) from None
        except (OSError, HTTPError, ApiException) as exc:  # apiserver down or unreachable
            why = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
            raise self.error(f"binding pod {namespace}/{name} to {node}: {why}") from None

    def _bind(self, namespace: str, name: str, uid: str, node: str, placement: str | None) -> None:
        meta: dict[str, object] = {"name": name, "namespace": namespace}
        if uid:
            meta["uid"] = uid
        if placement is not None:
            meta["annotations"] = {PLACEMENT_ANNOTATION: placement}
        binding = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": meta,
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        }
        # Quoted: a name is a path segment, never a path (the wire refuses such names too).
        path = f"/api/v1/namespaces/{quote(namespace, safe='')}/pods/{quote(name, safe='')}/binding"
        try:
            self.rest.request("POST", path, body=binding)
        except KubeApiError as exc:
            raise BindError(self._explain(exc, namespace, name, node)) from None

    @staticmethod
    def _explain(exc: KubeApiError, namespace: str, name: str, node: str) -> str:
        what = f"binding pod {namespace}/{name} to {node}"
        if exc.status == 409:
            return f"conflict {what}: {exc.message}"
        if exc.status == 404:
            return f"{what}: pod not found ({exc.message})"
        return f"{what} failed ({exc.status}: {exc.message})"
