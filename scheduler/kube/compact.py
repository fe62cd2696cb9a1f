"""Fold a parsed list one object at a time, so the long-lived cache is not scattered.

A list (a snapshot file, an apiserver relist) is parsed into one tree of dicts and strings.
The store keeps a few strings of each object (UIDs, node names, the placement annotation) and
drops the rest; those few survivors, spread over the whole tree's memory, keep almost all of it
mapped: CPython returns an arena to the OS only when every object in it is gone (about 36 MB
of RSS at 5,000 nodes, `benchmarks/bench_memory.py`). Re-encoding each object to bytes,
dropping the tree, then parsing and folding one object at a time lets each object's garbage be
reused by the next one, so what survives is packed together and the rest can be returned.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson


def one_by_one(objects: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Yield each object of `objects` parsed afresh, one at a time, emptying `objects` first
    (the caller's other references, if any, keep the tree alive: pass the only one).

    Objects come back equal to what was given; one that JSON cannot carry as it is (a YAML
    timestamp, a non-string key, an integer over 64 bits) is yielded untouched. A float NaN or
    infinity (YAML only) comes back as None."""
    objects.reverse()
    blobs: list[bytes | dict[str, Any]] = []
    while objects:  # each object dropped once encoded: the tree shrinks as the bytes grow
        blobs.append(_encoded(objects.pop()))
    for i, blob in enumerate(blobs):
        blobs[i] = b""  # drop each encoding once parsed
        yield orjson.loads(blob) if isinstance(blob, bytes) else blob


def _encoded(obj: dict[str, Any]) -> bytes | dict[str, Any]:
    try:  # datetimes raise too (passthrough, no default), so they stay datetimes
        return orjson.dumps(obj, option=orjson.OPT_PASSTHROUGH_DATETIME)
    except TypeError:
        return obj
