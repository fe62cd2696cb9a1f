"""Encoded Node objects for filter replies in nodeCacheCapable: false mode, reused by version.

That mode answers with the passing Node objects themselves, thousands per pod, and re-encoding
them was a fifth of the request. A node's JSON is fixed by its (name, resourceVersion) (the
apiserver bumps the version on every change), so each is encoded once and spliced back as an
`orjson.Fragment`. Nodes without a resourceVersion are encoded afresh every time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson


class NodeBytes:
    def __init__(self) -> None:
        self._cache: dict[str, tuple[str, orjson.Fragment]] = {}  # name -> (version, bytes)

    def fragments(self, nodes: Sequence[dict[str, Any]]) -> list[orjson.Fragment]:
        cache = self._cache
        out = []
        for node in nodes:
            meta = node["metadata"]
            name, rv = meta["name"], meta.get("resourceVersion")
            hit = cache.get(name)
            if hit is not None and rv and hit[0] == rv:
                out.append(hit[1])
                continue
            frag = orjson.Fragment(orjson.dumps(node))
            if rv and isinstance(rv, str):
                cache[name] = (rv, frag)
            out.append(frag)
        if len(cache) > 2 * len(nodes) + 1024:  # deleted nodes: keep only what is still sent
            keep = {n["metadata"]["name"] for n in nodes}
            self._cache = {k: v for k, v in cache.items() if k in keep}
        return out

    def __len__(self) -> int:
        return len(self._cache)
