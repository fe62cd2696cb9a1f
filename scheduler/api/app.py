"""The FastAPI app: kube-scheduler's four extender verbs plus health, readiness, metrics, explain.

Every verb goes through `serve` (inside `verb`), the one place where errors become HTTP answers:
`ApiError` -> its 4xx/503 and `{"Error": "<one line>"}`; a `ValueError` from the core (bad pod
content) -> 400; anything else -> 500 with a one-line `{"Error"}` (logged with its traceback,
never sent). Filter/prioritize/preempt are CPU-only and run on the event loop (no thread hop on
the hot path) when their body is small; bind does API I/O, and a body over `offload_bytes`
(thousands of Nodes) is parsed and answered in the thread pool, so one large request never
holds up /healthz, /readyz or the next small request. A body must arrive within
`body_timeout_s` (a Content-Length larger than the bytes sent is answered 408, not waited on),
and a request may name at most `max_nodes` nodes and `max_victims` victims (issue 11,
finding 3).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from scheduler.api import schema, wire
from scheduler.api.errors import (
    ApiError,
    BadRequest,
    Busy,
    NotFound,
    NotReady,
    PayloadTooLarge,
    RequestTimeout,
    Unauthorized,
)
from scheduler.api.fastpath import ExtenderApp, Receive, Scope, VerbHandler, header
from scheduler.api.metrics import ExtenderMetrics, GaugeSource
from scheduler.api.nodebytes import HostPriorityBytes, NodeBytes
from scheduler.api.port import ExtenderPort

log = logging.getLogger("tessera.api")
JSON = "application/json"
VERBS = ("filter", "prioritize", "bind", "preempt")


class EdgeConfig:
    """What the app needs from `Settings`, resolved once (token read, limit fixed)."""

    def __init__(
        self,
        *,
        body_limit: int,
        token: str | None,
        token_on_verbs: bool,
        body_timeout_s: float = 10.0,
        max_nodes: int = wire.MAX_NODES,
        max_victims: int = wire.MAX_VICTIMS,
        offload_bytes: int = 256 * 1024,
        inflight_bytes: int | None = None,
    ) -> None:
        self.body_limit = body_limit
        # Request bodies held at once, all requests together (default 4 x `body_limit`):
        # 100 connections each sending a 64 MiB body were 6.4 GB in memory before any parse.
        self.inflight_bytes = inflight_bytes if inflight_bytes is not None else 4 * body_limit
        self.token = token
        self.token_on_verbs = token_on_verbs
        self.body_timeout_s = body_timeout_s
        self.max_nodes = max_nodes
        self.max_victims = max_victims
        self.offload_bytes = offload_bytes


def publish_verb_schemas(app: FastAPI) -> None:
    """/openapi.json: FastAPI's document of the GET routes plus the four verbs (served by the
    middleware, so FastAPI cannot see them) from `scheduler.api.schema`."""
    base = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = base()
            paths, models = schema.verb_paths()
            doc.setdefault("paths", {}).update(paths)
            doc.setdefault("components", {}).setdefault("schemas", {}).update(models)
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(
    port: ExtenderPort,
    config: EdgeConfig,
    *,
    ready: Callable[[], bool] = lambda: True,
    metrics: ExtenderMetrics | None = None,
    counters: GaugeSource | None = None,
) -> ExtenderApp:
    app = ExtenderApp(
        title="tessera extender", docs_url=None, redoc_url=None, openapi_url="/openapi.json"
    )
    publish_verb_schemas(app)
    m = metrics or ExtenderMetrics(gauges=port.gauges, counters=counters)
    app.state.metrics = m

    def check_token(authorization: str | None) -> None:
        if config.token is None:
            return
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip(), config.token):
            raise Unauthorized("missing or wrong bearer token")

    held = [0]  # bytes of request bodies read and not yet answered (event loop only)

    async def read_body(scope: Scope, receive: Receive) -> bytes:
        """The request's body; counted in `held` until the caller subtracts its length (on
        the way out, whatever happens), or until this raises."""
        declared = header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > config.body_limit:
            raise PayloadTooLarge(f"body of {declared} bytes exceeds the {config.body_limit} limit")
        chunks: list[bytes] = []
        deadline = asyncio.get_running_loop().time() + config.body_timeout_s
        try:
            return await read_chunks(receive, chunks, deadline)
        except BaseException:
            held[0] -= sum(map(len, chunks))
            raise

    async def read_chunks(receive: Receive, chunks: list[bytes], deadline: float) -> bytes:
        size = 0
        try:
            # One timer for the whole body (a wait_for per message made a Task per message).
            async with asyncio.timeout_at(deadline):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        raise BadRequest("client disconnected before the body was complete")
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > config.body_limit:
                        raise PayloadTooLarge(f"body exceeds the {config.body_limit}-byte limit")
                    if held[0] + len(chunk) > config.inflight_bytes:
                        raise Busy(f"{held[0]} bytes of request bodies in flight; retry shortly")
                    held[0] += len(chunk)
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        return chunks[0] if len(chunks) == 1 else b"".join(chunks)
        except TimeoutError:
            raise RequestTimeout(
                f"body not complete after {config.body_timeout_s:g} s ({size} bytes read)"
            ) from None

    def verb(name: str, handle: Callable[[bytes], bytes]) -> VerbHandler:
        answered_ok = m.requests.labels(name, "200")  # label children bound once, not per call
        latency = m.latency.labels(name)

        async def serve(scope: Scope, receive: Receive) -> tuple[int, bytes]:
            t0 = time.perf_counter()
            code = 200
            body = b""
            try:
                if config.token_on_verbs:
                    check_token(header(scope, b"authorization"))
                if not ready():
                    raise NotReady("watch cache not synced yet; retry shortly")
                body = await read_body(scope, receive)
                if name == "bind" or len(body) > config.offload_bytes:  # API I/O, large parse
                    content = await run_in_threadpool(handle, body)
                else:
                    content = handle(body)
            except ApiError as exc:
                code, content = exc.status_code, wire.encode_error(exc.message)
                m.rejected.labels(name, exc.reason).inc()
            except ValueError as exc:  # the core refused the pod's content (unknown profile...)
                code, content = 400, wire.encode_error(BadRequest(str(exc)).message)
                m.rejected.labels(name, "bad_pod").inc()
            except Exception as exc:  # the app's one catch-all: log the traceback, answer one line
                log.exception("%s failed", name)
                code = 500
                line = " ".join(f"internal error in {name}: {type(exc).__name__}: {exc}".split())
                content = wire.encode_error(line)
            finally:
                held[0] -= len(body)
            (answered_ok if code == 200 else m.requests.labels(name, str(code))).inc()
            latency.observe(time.perf_counter() - t0)
            return code, content

        return serve

    node_bytes = NodeBytes()  # filter replies in full-Nodes mode: each Node encoded once
    host_bytes = HostPriorityBytes()  # prioritize replies: each host's fragment encoded once

    def do_filter(body: bytes) -> bytes:
        args = wire.decode_extender_args(body, max_nodes=config.max_nodes)
        names = args.names()
        ans = port.filter(args.pod, names, args.nodes)
        known = set(names)
        if not known.issuperset(ans.passed):  # gotcha 4: kube-scheduler fails the attempt
            stray = [n for n in ans.passed if n not in known]
            raise RuntimeError(f"core passed nodes not in the request: {stray[:3]}")
        m.observe_filter(ans.failed, ans.unresolvable, len(ans.passed), ans.chosen_away)
        if ans.gang_outcome:
            m.gangs.labels(ans.gang_outcome).inc()
        passed_nodes = None
        if not args.cache_mode:
            by_name = dict(zip(names, args.nodes or (), strict=True))
            passed_nodes = node_bytes.fragments([by_name[n] for n in ans.passed])
        return wire.encode_filter_result(
            cache_mode=args.cache_mode,
            passed_names=ans.passed,
            passed_nodes=passed_nodes,
            failed=ans.failed,
            unresolvable=ans.unresolvable,
            error=ans.error,
        )

    def do_prioritize(body: bytes) -> bytes:
        args = wire.decode_extender_args(body, max_nodes=config.max_nodes)
        scores = port.prioritize(args.pod, args.names(), args.nodes)
        return wire.encode_host_priority_list(scores, host_bytes.encode)

    def do_bind(body: bytes) -> bytes:
        error = port.bind(wire.decode_binding_args(body))
        m.binds.labels("error" if error else "bound").inc()
        return wire.encode_binding_result(error)

    def do_preempt(body: bytes) -> bytes:
        args = wire.decode_preemption_args(body, max_victims=config.max_victims)
        return wire.encode_preemption_result(port.preempt(args.pod, args.victims))

    handlers = {
        "filter": do_filter,
        "prioritize": do_prioritize,
        "bind": do_bind,
        "preempt": do_preempt,
    }
    app.set_verbs({f"/{v}": verb(v, handlers[v]) for v in VERBS})

    @app.get("/healthz", response_class=PlainTextResponse)
    async def healthz() -> Response:
        return Response(b"ok", media_type="text/plain")

    @app.get(
        "/readyz",
        response_class=PlainTextResponse,
        responses={503: {"description": "not ready", "content": {"text/plain": {}}}},
    )
    async def readyz() -> Response:
        if ready():
            return Response(b"ok", media_type="text/plain")
        return Response(b"watch cache not synced", status_code=503, media_type="text/plain")

    @app.get("/metrics", response_class=PlainTextResponse)
    async def metrics_route(request: Request) -> Response:
        try:
            check_token(request.headers.get("authorization"))
        except ApiError as exc:
            return Response(wire.encode_error(exc.message), exc.status_code, media_type=JSON)
        return Response(generate_latest(m.registry), media_type=CONTENT_TYPE_LATEST)

    # One /explain at a time, off the event loop: it filters and scores the pod on every node
    # (4-5 s and 2.6 MB at 10,000 nodes), and on the loop it held up every verb and probe
    # for that long (kube-scheduler's httpTimeout is 5 s); a second one meanwhile is a 429.
    explaining = threading.Lock()

    def explain_bytes(key: str) -> bytes:
        try:
            try:
                result = port.explain(key)
            except KeyError:
                raise NotFound(f"pod {key[:300]} is unknown to tessera") from None
            return orjson.dumps(result, option=orjson.OPT_NON_STR_KEYS)
        finally:
            explaining.release()

    @app.get("/explain")
    async def explain(request: Request) -> Response:
        try:
            check_token(request.headers.get("authorization"))
            key = request.query_params.get("pod", "")
            ns, sep, name = key.partition("/")
            if not sep or not ns or not name or "/" in name:
                raise BadRequest(f"query parameter pod={key[:80]!r} must be NAMESPACE/NAME")
            if not explaining.acquire(blocking=False):
                raise Busy("another /explain is being answered; retry shortly")
            content = await run_in_threadpool(explain_bytes, key)
            return Response(content, media_type=JSON)
        except ApiError as exc:
            return Response(wire.encode_error(exc.message), exc.status_code, media_type=JSON)
        except Exception as exc:  # noqa: BLE001 -- one JSON line, as on the verbs
            log.exception("explain failed")
            line = " ".join(f"internal error in explain: {type(exc).__name__}: {exc}".split())
            return Response(wire.encode_error(line), 500, media_type=JSON)

    return app
