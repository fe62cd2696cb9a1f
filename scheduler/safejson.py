"""The one JSON decoder for every document Tessera reads: request bodies, watch events,
annotations and PodGroups.

Two limits, checked before anything of ours walks the document:
- size: the byte length of the text;
- depth: how deeply arrays and objects nest. orjson itself stops at 1,024 levels, but the stdlib
  `json` module and any recursive walk die with `RecursionError` long before that, and
  `orjson.dumps` refuses to re-encode more than 254 levels (issue 11, findings 1 and 4).

A violation raises `JsonLimitError`, a `ValueError` with a one-line message naming the document,
so every caller that already treats `ValueError` as bad input (400, an ignored annotation, a
skipped watch object) handles it without a new except clause.

Depth is measured without recursion: small documents are parsed and then walked with an explicit
stack; large ones (request bodies of thousands of Nodes) are scanned as bytes with numpy before
parsing, so the check costs a few vector passes rather than a Python loop over every value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

_OPEN = (ord("{"), ord("["))
_CLOSE = (ord("}"), ord("]"))
_QUOTE = ord('"')
# Below this many bytes a parse-then-walk is cheaper than numpy's per-call overhead.
_SCAN_FROM_BYTES = 64 * 1024


class JsonLimitError(ValueError):
    """The document is malformed, too large or too deeply nested; the message says which."""


@dataclass(frozen=True, slots=True)
class Limits:
    max_bytes: int
    max_depth: int


# Kubernetes objects nest about 15 levels (managedFields are the deepest); 64 leaves room for
# CRDs while staying far from `orjson.dumps`' 254 and the interpreter's recursion limit.
DOCUMENT = Limits(max_bytes=64 * 1024 * 1024, max_depth=64)
# An annotation value is at most 256 KiB in Kubernetes (all annotations of one object together);
# Tessera's own annotations nest 4 levels.
ANNOTATION = Limits(max_bytes=256 * 1024, max_depth=16)


def loads(data: bytes | bytearray | memoryview | str, limits: Limits, what: str) -> Any:
    """Parse `data` as JSON within `limits`; `JsonLimitError` naming `what` otherwise."""
    if isinstance(data, str):
        raw: bytes | bytearray | memoryview = data.encode("utf-8", "surrogatepass")
    elif isinstance(data, bytes | bytearray | memoryview):
        raw = data
    else:
        raise JsonLimitError(f"{what}: expected JSON text, got {type(data).__name__}")
    size = len(raw)
    if size > limits.max_bytes:
        raise JsonLimitError(f"{what}: {size} bytes exceeds the {limits.max_bytes}-byte limit")
    if size >= _SCAN_FROM_BYTES:
        depth = scan_depth(raw)
        if depth > limits.max_depth:
            raise _too_deep(what, limits)
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if "depth limit" in str(exc):
            raise _too_deep(what, limits) from None
        raise JsonLimitError(f"{what}: malformed JSON: {' '.join(str(exc).split())}") from None
    if size < _SCAN_FROM_BYTES and walk_depth(doc, limits.max_depth) > limits.max_depth:
        raise _too_deep(what, limits)
    return doc


def _too_deep(what: str, limits: Limits) -> JsonLimitError:
    return JsonLimitError(f"{what}: nested deeper than {limits.max_depth} levels")


def walk_depth(doc: Any, stop_above: int | None = None) -> int:
    """Nesting depth of a parsed document (a scalar is 0, `[]` is 1), iteratively; stops
    counting once `stop_above` is exceeded."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(doc, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        depth += 1
        if depth > deepest:
            deepest = depth
            if stop_above is not None and deepest > stop_above:
                return deepest
        if not set(map(type, children)) <= _LEAVES:  # a C-speed pass skips lists of names
            stack.extend((c, depth) for c in children if isinstance(c, dict | list))
    return deepest


_LEAVES = {str, int, float, bool, type(None)}  # exact types: a subclass takes the slow path


def scan_depth(raw: bytes | bytearray | memoryview) -> int:
    """Nesting depth of JSON text, read from its bytes: brackets inside strings are skipped.

    All at C speed: inside a string a backslash escapes exactly the next byte, so dropping
    `\\\\` pairs left to right and then every `\\"` leaves only the quotes that open and close
    strings; `bytes.translate` then keeps just quotes and brackets, and numpy counts on that short
    remainder (a bracket is inside a string when an odd number of quotes precede it).
    Valid or not, the text is never parsed; for malformed text the figure is only a bound."""
    text = bytes(raw).replace(b"\\\\", b"").replace(b'\\"', b"")
    arr = np.frombuffer(text.translate(None, _NOT_STRUCTURAL), dtype=np.uint8)
    in_string = (np.cumsum(arr == _QUOTE, dtype=np.int64) & 1) == 1
    steps = _STEP[arr]
    steps[in_string] = 0
    return int(max(0, np.cumsum(steps, dtype=np.int64).max(initial=0)))


_STRUCTURAL = b'{}[]"'
_NOT_STRUCTURAL = bytes(b for b in range(256) if b not in _STRUCTURAL)
_STEP = np.zeros(256, dtype=np.int8)
_STEP[list(_OPEN)] = 1
_STEP[list(_CLOSE)] = -1
