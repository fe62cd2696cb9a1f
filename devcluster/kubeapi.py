"""A small REST client for the local kube-apiserver: bearer token, TLS verified against the
self-signed certificate the apiserver generated in its `--cert-dir` (the file holds its CA)."""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx

T = TypeVar("T")


class KubeError(RuntimeError):
    """The apiserver answered with an error status; the message carries its reason."""


class KubeApi:
    def __init__(self, server: str, token: str, ca_file: Path, timeout_s: float = 30.0) -> None:
        self.server = server
        self._http = httpx.Client(
            base_url=server,
            headers={"Authorization": f"Bearer {token}"},
            verify=ssl.create_default_context(cafile=str(ca_file)),
            timeout=timeout_s,
        )

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        headers = {"Content-Type": "application/merge-patch+json"} if method == "PATCH" else None
        resp = self._http.request(method, path, json=body, params=params or None, headers=headers)
        if resp.status_code >= 400:
            raise KubeError(f"{method} {path}: {resp.status_code} {resp.text[:300]}")
        return resp.json() if resp.content else None

    def stream(self, path: str, **params: Any) -> Any:
        """A streaming GET (a watch): use as a context manager, iterate `iter_lines()`.

        Uncompressed: the apiserver gzips large responses, and a gzip stream reaches the
        reader only in compressed blocks, holding watch events back for many seconds."""
        headers = {"Accept-Encoding": "identity"}
        return self._http.stream("GET", path, params=params, headers=headers, timeout=None)

    def healthy(self) -> bool:
        try:
            return self._http.get("/readyz").status_code == 200
        except httpx.HTTPError:
            return False

    # Objects -----------------------------------------------------------------------------
    def create_node(self, node: dict[str, Any]) -> dict[str, Any]:
        """Create a Node; its status (capacity, allocatable, Ready) is written by a second call
        because the create call ignores status for nodes."""
        created = self.request("POST", "/api/v1/nodes", node)
        if "status" in node:
            status = {"status": node["status"]}
            name = node["metadata"]["name"]
            created = self.request("PATCH", f"/api/v1/nodes/{name}/status", status)
        return dict(created)

    def create_pod(self, pod: dict[str, Any], namespace: str = "default") -> dict[str, Any]:
        return dict(self.request("POST", f"/api/v1/namespaces/{namespace}/pods", pod))

    def pod(self, name: str, namespace: str = "default") -> dict[str, Any]:
        return dict(self.request("GET", f"/api/v1/namespaces/{namespace}/pods/{name}"))

    def pods(self, namespace: str = "default", selector: str | None = None) -> list[dict[str, Any]]:
        params = {"labelSelector": selector} if selector else {}
        return list(self.request("GET", f"/api/v1/namespaces/{namespace}/pods", **params)["items"])

    def delete_pod(self, name: str, namespace: str = "default") -> None:
        self.request("DELETE", f"/api/v1/namespaces/{namespace}/pods/{name}", gracePeriodSeconds=0)

    def events_for(self, name: str, namespace: str = "default") -> list[dict[str, Any]]:
        """Events about pod `name` (core/v1 events; kube-scheduler writes events.k8s.io/v1,
        which the apiserver serves through both)."""
        sel = f"involvedObject.name={name},involvedObject.kind=Pod"
        return list(
            self.request("GET", f"/api/v1/namespaces/{namespace}/events", fieldSelector=sel)[
                "items"
            ]
        )


def wait_for(what: str, fn: Callable[[], T | None], timeout_s: float, every_s: float = 0.25) -> T:
    """Poll `fn` until it returns a truthy value; raise TimeoutError naming `what`."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = fn()
        if got:
            return got
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(every_s)
