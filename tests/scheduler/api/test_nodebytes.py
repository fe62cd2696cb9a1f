"""Encoded-Node reuse for full-Nodes filter replies: the bytes always equal a fresh encoding."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from scheduler.api.nodebytes import HostPriorityBytes, NodeBytes


def node(name: str, rv: str | None, label: str = "x") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": {"l": label}}
    if rv is not None:
        meta["resourceVersion"] = rv
    return {"metadata": meta, "status": {}}


def encoded(frags: list[orjson.Fragment]) -> bytes:
    return orjson.dumps({"items": frags})


def test_reused_by_version_and_reencoded_when_it_changes() -> None:
    nb = NodeBytes()
    first = nb.fragments([node("a", "1", "old")])
    assert nb.fragments([node("a", "1", "old")])[0] is first[0]  # same version: same bytes
    changed = nb.fragments([node("a", "2", "new")])
    assert encoded(changed) == orjson.dumps({"items": [node("a", "2", "new")]})


def test_nodes_without_a_version_are_never_cached() -> None:
    nb = NodeBytes()
    nb.fragments([node("a", None, "old")])
    assert len(nb) == 0
    assert encoded(nb.fragments([node("a", None, "new")])) == orjson.dumps(
        {"items": [node("a", None, "new")]}
    )


def test_cache_forgets_nodes_no_longer_sent() -> None:
    nb = NodeBytes()
    nb.fragments([node(f"n{i}", "1") for i in range(1100)])
    nb.fragments([node("n0", "1")])  # 1100 > 2 * 1 + 1024: prune to what this call sent
    assert len(nb) == 1


@given(
    st.lists(
        st.lists(
            st.tuples(st.sampled_from("abcd"), st.sampled_from(["1", "2", None])),
            max_size=6,
        ),
        min_size=1,
        max_size=5,
    )
)
def test_fragments_always_encode_like_the_objects(
    calls: list[list[tuple[str, str | None]]],
) -> None:
    """Property: over any sequence of calls, the spliced bytes equal encoding the objects now
    (a node's content is a function of its name and version, as on the apiserver)."""
    nb = NodeBytes()
    for call in calls:
        nodes = [node(n, rv, f"{n}@{rv}") for n, rv in call]
        assert encoded(nb.fragments(nodes)) == orjson.dumps({"items": nodes})


# ---------------------------------------------------------------- prioritize replies

hosts = st.text(min_size=1, max_size=12)  # any Unicode: quotes, backslashes, controls, emoji


@given(
    st.lists(st.lists(st.tuples(hosts, st.integers(0, 10)), max_size=8), min_size=1, max_size=4),
    st.integers(1, 5),
)
def test_host_priority_bytes_equal_orjson_of_the_dicts(
    calls: list[list[tuple[str, int]]], limit: int
) -> None:
    enc = HostPriorityBytes(limit=limit)
    widest = 0  # the most names one call sent: that call needed them all at once
    for scores in calls:  # the cache carries over between calls and is cleared past `limit`
        assert enc.encode(scores) == orjson.dumps([{"Host": h, "Score": s} for h, s in scores])
        widest = max(widest, len({h for h, _ in scores}))
        assert len(enc) <= max(limit, widest)


def test_host_priority_fragments_are_cached_per_name() -> None:
    enc = HostPriorityBytes()
    enc.encode([("n1", 3), ("n2", 10)])
    enc.encode([("n1", 0)])
    assert len(enc) == 2  # n1's head was reused with a new score
    want = b'[{"Host":"n1","Score":0},{"Host":"n2","Score":10}]'
    assert enc.encode([("n1", 0), ("n2", 10)]) == want


def test_a_second_body_under_the_same_version_is_echoed_as_sent() -> None:
    """Round 10: anyone on the port may send a Node at the next genuine resourceVersion first;
    keyed by (name, version) alone its bytes were echoed to kube-scheduler's later request of
    that version (which reads the reply's Nodes) until the version moved on."""
    nb = NodeBytes()
    nb.fragments([node("a", "51", "forged")])
    genuine = node("a", "51", "genuine")
    assert encoded(nb.fragments([genuine])) == orjson.dumps({"items": [genuine]})
