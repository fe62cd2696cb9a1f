"""Raw JSON requests through the official `kubernetes` client's `ApiClient`.

We use the client for what it does well (kubeconfig / in-cluster auth, TLS, bearer tokens,
connection pooling) but skip its model (de)serialisation: the scheduling core reads plain dicts,
and decoding thousands of Nodes into generated models and back is slow. Requests are built
with `ApiClient.param_serialize` (host, auth headers) and sent with `ApiClient.call_api`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import orjson
from kubernetes.client import ApiClient

from scheduler import safejson


class KubeApiError(Exception):
    """A non-2xx answer from the apiserver: its status code and the Status message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


def _status_message(status: int, data: bytes) -> str:
    try:
        doc = orjson.loads(data)
        if isinstance(doc, dict) and doc.get("message"):
            return str(doc["message"])
    except orjson.JSONDecodeError:
        pass
    return data[:200].decode("utf-8", "replace") or f"HTTP {status}"


class KubeRest:
    def __init__(self, api_client: ApiClient, request_timeout_s: float = 30.0) -> None:
        self.api_client = api_client
        self.request_timeout_s = request_timeout_s

    def _send(
        self,
        method: str,
        path: str,
        query: Sequence[tuple[str, Any]] = (),
        body: bytes | None = None,
        content_type: str = "application/json",
        timeout: float | tuple[float, float] | None = None,
    ) -> Any:
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        _, url, headers, _, _ = self.api_client.param_serialize(
            method=method,
            resource_path=path,
            query_params=list(query),
            header_params=headers,
            auth_settings=["BearerToken"],
        )
        # The client's REST layer json.dumps() every JSON body (bytes raise TypeError): hand it
        # the decoded document.
        doc = None if body is None else orjson.loads(body)
        return self.api_client.call_api(
            method, url, header_params=headers, body=doc, _request_timeout=timeout
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Sequence[tuple[str, Any]] = (),
        body: Any = None,
        content_type: str = "application/json",
    ) -> Any:
        """Send one request; the decoded JSON answer, or `KubeApiError` on a non-2xx status."""
        raw = None if body is None else orjson.dumps(body)
        resp = self._send(method, path, query, raw, content_type, self.request_timeout_s)
        data: bytes = resp.read()
        if not 200 <= resp.status < 300:
            raise KubeApiError(resp.status, _status_message(resp.status, data))
        return safejson.loads(data, safejson.DOCUMENT, f"{method} {path} reply") if data else None

    def watch_lines(
        self, path: str, query: Sequence[tuple[str, Any]], timeout_s: int
    ) -> Iterator[dict[str, Any]]:
        """Stream a watch: one decoded event per line until the server ends it."""
        q = [*query, ("watch", "true"), ("timeoutSeconds", timeout_s)]
        # Read timeout a little past the server-side one, so a dead connection is noticed.
        resp = self._send("GET", path, q, timeout=(10.0, timeout_s + 30.0))
        raw = resp.response
        try:
            if not 200 <= resp.status < 300:
                data = raw.read()
                raise KubeApiError(resp.status, _status_message(resp.status, data))
            buf = b""
            for chunk in raw.stream(64 * 1024, decode_content=True):
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if line.strip():
                        yield _event(line, path)
            if buf.strip():
                yield _event(buf, path)
        finally:
            raw.release_conn()


UNDECODABLE = "UNDECODABLE"


def _event(line: bytes, path: str) -> dict[str, Any]:
    """One watch line decoded; a line over the limits (or garbled) becomes an `UNDECODABLE`
    event carrying the reason, so the informer counts and skips it instead of re-watching from
    the same resourceVersion into the same line forever."""
    try:
        doc = safejson.loads(line, safejson.DOCUMENT, f"watch event on {path}")
    except safejson.JsonLimitError as exc:
        return {"type": UNDECODABLE, "object": {}, "error": str(exc)}
    if not isinstance(doc, dict):
        return {"type": UNDECODABLE, "object": {}, "error": "watch event is not an object"}
    return doc
