"""The one JSON decoder (`scheduler.safejson`): limits hold, the byte scan agrees with the walk,
and nothing but `JsonLimitError` ever escapes."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler import safejson
from scheduler.safejson import JsonLimitError, Limits, scan_depth, walk_depth

# JSON values whose strings are full of the characters that fool a naive scan: brackets,
# quotes and backslash runs.
TRICKY = st.text(alphabet=st.sampled_from('[]{}"\\\\ ab\n\u00e9'), max_size=12)
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | TRICKY,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TRICKY, inner, max_size=4),
    max_leaves=40,
)


@given(VALUES)
@settings(max_examples=400)
def test_byte_scan_depth_equals_the_parsed_depth(doc: object) -> None:
    raw = orjson.dumps(doc)
    assert scan_depth(raw) == walk_depth(orjson.loads(raw))


@given(st.binary(max_size=300) | st.text(max_size=300))
@settings(max_examples=400)
def test_any_input_parses_or_raises_one_line_limit_error(data: bytes | str) -> None:
    try:
        safejson.loads(data, Limits(max_bytes=200, max_depth=3), "doc")
    except JsonLimitError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("doc: ")


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("[" * 5000 + "]" * 5000, "doc: nested deeper than 16 levels"),
        ("[" * 17 + "]" * 17, "doc: nested deeper than 16 levels"),
        ('"' + "x" * 300 * 1024 + '"', "doc: 307202 bytes exceeds the 262144-byte limit"),
        ("{", "doc: malformed JSON: unexpected end of data: line 1 column 2 (char 1)"),
    ],
)
def test_annotation_limits(text: str, error: str) -> None:
    with pytest.raises(JsonLimitError) as exc:
        safejson.loads(text, safejson.ANNOTATION, "doc")
    assert str(exc.value) == error


def test_large_documents_are_scanned_before_parsing() -> None:
    deep = b'{"pad": "' + b"x" * 70_000 + b'", "v": ' + b"[" * 65 + b"]" * 65 + b"}"
    with pytest.raises(JsonLimitError, match="nested deeper than 64 levels"):
        safejson.loads(deep, safejson.DOCUMENT, "body")
    ok = b'{"pad": "' + b"[" * 70_000 + b'", "v": ' + b"[" * 63 + b"]" * 63 + b"}"
    assert safejson.loads(ok, safejson.DOCUMENT, "body")["pad"].startswith("[[[")
