"""The extender's telemetry sources. Each `fetch(now)` returns readings or raises `SourceError`.

- `PrometheusSource`: the Prometheus HTTP API. One range-vector query over the metric names
  (`{__name__=~"..."}[<max_age>s]`) returns raw samples with their real scrape timestamps, so a
  series that stopped updating is seen as old rather than re-stamped "now" by an instant query.
- `ScrapeSource`: direct GETs of exporter `/metrics` text (tolerant parser; stamped with the
  fetch time).
- `AnnotationSource`: the agent's `tessera.io/gpus` node annotation, from node objects supplied
  by the caller (the informer cache); a garbage annotation skips that node, logged once.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

import httpx

from scheduler import safejson
from scheduler.policy.rules import DEFAULT_MAX_LOAD_AGE_S
from scheduler.telemetry import annotation
from scheduler.telemetry.hub import dcgm
from scheduler.telemetry.hub.staleness import SourceError
from scheduler.telemetry.hub.textparse import Sample, parse
from scheduler.telemetry.logonce import LogOnce
from scheduler.telemetry.readings import GpuReading

log = logging.getLogger(__name__)


class Source(Protocol):
    name: str
    max_age_s: float

    def fetch(self, now: float) -> list[GpuReading]: ...


# An answer must be whole within this many times the per-request timeout, and no larger than
# a document `safejson` reads: httpx's timeout bounds each read, not the answer, so a server
# sending a byte a second held the poller (every source's refresh) as long as it went on, and
# an endless answer was read whole into memory.
ANSWER_DEADLINE_FACTOR = 5
MAX_ANSWER_BYTES = safejson.DOCUMENT.max_bytes


def _get(client: httpx.Client, url: str, timeout_s: float, **params: str) -> bytes:
    """The body of a 200 answer to GET `url`; `SourceError` otherwise, or when it is not
    whole within `ANSWER_DEADLINE_FACTOR` x `timeout_s` or over `MAX_ANSWER_BYTES`."""
    deadline_s = ANSWER_DEADLINE_FACTOR * timeout_s
    end = time.monotonic() + deadline_s
    chunks: list[bytes] = []
    size = 0
    try:
        with client.stream("GET", url, params=params or None) as resp:
            for chunk in resp.iter_bytes():
                size += len(chunk)
                chunks.append(chunk)
                if resp.status_code != 200 and size >= 120:
                    break  # the start of an error page is all the message shows
                if size > MAX_ANSWER_BYTES:
                    raise SourceError(f"{url}: answer over {MAX_ANSWER_BYTES} bytes")
                if time.monotonic() > end:
                    raise SourceError(f"{url}: answer not whole within {deadline_s:g} s")
    except httpx.HTTPError as exc:
        raise SourceError(f"{url}: {type(exc).__name__}: {exc}") from None
    body = b"".join(chunks)
    if resp.status_code != 200:
        text = body[:120].decode("utf-8", "replace").strip()
        raise SourceError(f"{url}: HTTP {resp.status_code} {text!r}")
    return body


class PrometheusSource:
    def __init__(
        self,
        base_url: str,
        *,
        max_age_s: float = DEFAULT_MAX_LOAD_AGE_S,
        timeout_s: float = 2.0,
        metrics: Sequence[str] = dcgm.METRIC_NAMES,
        name: str = "prometheus",
    ) -> None:
        self.name, self.max_age_s = name, max_age_s
        self._url = base_url.rstrip("/") + "/api/v1/query"
        names = "|".join(re.escape(m) for m in metrics)
        self._query = f'{{__name__=~"{names}"}}[{max(1, int(max_age_s))}s]'
        self._client = httpx.Client(timeout=timeout_s)
        self._timeout_s = timeout_s

    def fetch(self, now: float) -> list[GpuReading]:
        content = _get(self._client, self._url, self._timeout_s, query=self._query,
                       time=f"{now:.3f}")  # fmt: skip
        try:
            # The size- and depth-limited decoder: a deep answer was a RecursionError from
            # httpx's json.loads, which no except here caught, and it ended the poller thread.
            body = safejson.loads(content, safejson.DOCUMENT, f"{self._url} answer")
            if not isinstance(body, dict):
                raise TypeError(f"expected a JSON object, got {type(body).__name__}")
            if body.get("status") != "success":
                raise SourceError(f"{self._url}: {body.get('errorType')}: {body.get('error')}")
            result = body["data"]["result"]
            pairs = list(_matrix_samples(result))
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise SourceError(
                f"{self._url}: unexpected answer ({type(exc).__name__}: {exc})"
            ) from None
        return dcgm.readings(pairs, self.name)

    def close(self) -> None:
        self._client.close()


def _matrix_samples(result: Iterable[Mapping[str, Any]]) -> Iterable[tuple[Sample, float]]:
    for series in result:
        labels = dict(series["metric"])
        name = labels.pop("__name__")
        ts, value = series["values"][-1]  # the newest raw sample in the window
        yield Sample(name, labels, float(value)), float(ts)


class ScrapeSource:
    def __init__(
        self,
        urls: Sequence[str],
        *,
        max_age_s: float = DEFAULT_MAX_LOAD_AGE_S,
        timeout_s: float = 2.0,
        name: str = "scrape",
    ) -> None:
        self.name, self.max_age_s, self._urls = name, max_age_s, list(urls)
        self._client = httpx.Client(timeout=timeout_s)
        self._timeout_s = timeout_s
        self._once = LogOnce(log)

    def fetch(self, now: float) -> list[GpuReading]:
        pairs: list[tuple[Sample, float]] = []
        errors = []
        for url in self._urls:
            try:
                text = _get(self._client, url, self._timeout_s).decode("utf-8", "replace")
            except SourceError as exc:
                errors.append(str(exc))
                continue
            parsed = parse(text)
            if parsed.bad_lines:
                no, why = parsed.bad_lines[0]
                self._once.warning(
                    f"bad/{url}",
                    "%s: skipped %d unparseable line(s), first at line %d (%s)",
                    url,
                    len(parsed.bad_lines),
                    no,
                    why,
                )
            pairs += [(s, now if s.timestamp_s is None else s.timestamp_s) for s in parsed.samples]
        if errors and not pairs:
            raise SourceError("; ".join(errors))
        for e in errors:  # some exporters answered: keep their data, note the others
            self._once.warning(f"err/{e}", "exporter scrape failed: %s", e)
        return dcgm.readings(pairs, self.name)

    def close(self) -> None:
        self._client.close()


class AnnotationSource:
    """`nodes()` yields (node name, annotations mapping) from the caller's node cache."""

    def __init__(
        self,
        nodes: Callable[[], Iterable[tuple[str, Mapping[str, str]]]],
        *,
        max_age_s: float = 900.0,
        name: str = "annotation",
    ) -> None:
        self.name, self.max_age_s, self._nodes = name, max_age_s, nodes
        self._once = LogOnce(log)

    def fetch(self, now: float) -> list[GpuReading]:
        out: list[GpuReading] = []
        for node, notes in self._nodes():
            text = notes.get(annotation.ANNOTATION)
            if text is None:
                continue
            try:
                out += annotation.decode(node, text)
            except annotation.AnnotationError as exc:
                self._once.warning(
                    f"{node}/{text[:64]}", "ignoring node %s telemetry: %s", node, exc
                )
        return out
