"""What every fuzzed reply must satisfy: no 5xx, and a refusal is one JSON line naming what."""

from __future__ import annotations

from typing import Any

import orjson


def assert_sound(code: int, body: bytes, context: Any = "") -> None:
    assert code < 500, f"{code} for {context!r}: {body[:300]!r}"
    if code >= 400 and code not in (404, 405):  # FastAPI's routing answers are not ours
        doc = orjson.loads(body)
        assert isinstance(doc, dict) and set(doc) == {"Error"}, body[:300]
        line = doc["Error"]
        assert isinstance(line, str) and line and "\n" not in line, body[:300]
        assert "Traceback" not in line
