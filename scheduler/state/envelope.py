"""The versioned JSON envelope of `tessera.io/placement`: `{"version": 1, ..., "gpus": [...]}`.

`placement.py` opens it here and raises its own `StateError` subclass. (`tessera.io/gpus` has
its own codec, shared by the agent and the extender: `scheduler.telemetry.annotation`.)
"""

from __future__ import annotations

from typing import Any

from scheduler import safejson
from scheduler.state.errors import StateError


def load_document(
    text: str, name: str, version: int, error: type[StateError], *, quote: bool = False
) -> dict[str, Any]:
    """Parse `text` as a JSON object of `version`; `quote` adds the text's start to a JSON error."""
    try:
        doc = safejson.loads(text, safejson.ANNOTATION, name)
    except safejson.JsonLimitError as exc:
        if "malformed JSON" not in str(exc):  # too large or too deep: say so, quote nothing
            raise error(str(exc)) from None
        shown = f": {str(text)[:60]!r}" if quote else ""
        raise error(f"{name} is not valid JSON{shown}") from None
    if not isinstance(doc, dict):
        raise error(f"{name} must be a JSON object")
    if doc.get("version") != version:
        shown = repr(doc.get("version"))
        raise error(f"{name}: unsupported version {shown[:40]}")
    return doc


def gpus_list(doc: dict[str, Any], name: str, error: type[StateError]) -> list[Any]:
    raw = doc.get("gpus")
    if not isinstance(raw, list):
        raise error(f"{name}: gpus must be a list")
    return raw
