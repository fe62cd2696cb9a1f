"""Encoded Node objects for filter replies in nodeCacheCapable: false mode, reused by version.

That mode answers with the passing Node objects themselves, thousands per pod, and re-encoding
them was a fifth of the request. A node's JSON is fixed by its (name, resourceVersion) when the
caller is the apiserver's client, so each is encoded once and spliced back as an
`orjson.Fragment`; but anyone who reaches the port can send another body under the same
version, so a hit also needs the same content (a dict comparison, about a sixth of an encode):
a forged Node sent first at the next genuine version was echoed to kube-scheduler, which reads
the reply's Nodes, until the version moved on (round 9's leftover). Nodes without a
resourceVersion are encoded afresh every time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson


class NodeBytes:
    def __init__(self) -> None:
        # name -> (version, the Node object, its bytes)
        self._cache: dict[str, tuple[str, dict[str, Any], orjson.Fragment]] = {}

    def fragments(self, nodes: Sequence[dict[str, Any]]) -> list[orjson.Fragment]:
        cache = self._cache
        out = []
        for node in nodes:
            meta = node["metadata"]
            name, rv = meta["name"], meta.get("resourceVersion")
            hit = cache.get(name)
            if hit is not None and rv and hit[0] == rv and (hit[1] is node or hit[1] == node):
                out.append(hit[2])
                continue
            frag = orjson.Fragment(orjson.dumps(node))
            if rv and isinstance(rv, str):
                cache[name] = (rv, node, frag)
            out.append(frag)
        if len(cache) > 2 * len(nodes) + 1024:  # deleted nodes: keep only what is still sent
            keep = {n["metadata"]["name"] for n in nodes}
            self._cache = {k: v for k, v in cache.items() if k in keep}
        return out

    def __len__(self) -> int:
        return len(self._cache)


_SCORE_TAIL = [b"%d}" % s for s in range(11)]  # HostPriority.Score is 0..10 on the wire


class HostPriorityBytes:
    """Prioritize replies from pre-encoded per-host fragments: `{"Host":"<name>","Score":`
    is encoded once per node name, so a reply of 5,000 hosts is one join of cached bytes
    instead of 5,000 dicts handed to orjson. Output is byte-for-byte `orjson.dumps` of the
    `[{"Host", "Score"}]` list (tests/scheduler/api/test_nodebytes.py checks it)."""

    def __init__(self, limit: int = 100_000) -> None:
        self._heads: dict[str, bytes] = {}
        self._limit = limit  # names sent by a hostile client must not grow it without bound

    def encode(self, scores: Sequence[tuple[str, int]]) -> bytes:
        """`scores` already checked to be integers in 0..10 (wire.encode_host_priority_list)."""
        heads, tail = self._heads, _SCORE_TAIL
        try:  # one list comprehension over cached bytes: ~0.55x orjson's list of dicts
            parts = [heads[host] + tail[score] for host, score in scores]
        except KeyError:  # a name not seen before: encode the missing heads, then again
            if len(heads) + len(scores) > self._limit:
                heads.clear()
            for host, _ in scores:
                if host not in heads:
                    heads[host] = b'{"Host":' + orjson.dumps(host) + b',"Score":'
            parts = [heads[host] + tail[score] for host, score in scores]
        return b"[" + b",".join(parts) + b"]"

    def __len__(self) -> int:
        return len(self._heads)
