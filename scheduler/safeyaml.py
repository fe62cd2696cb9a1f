"""The one YAML reader for files an operator or a cluster export hands Tessera: snapshots,
`--pod` files, settings, demand files.

PyYAML's safe loader builds objects only of plain types, but two things of a hostile file
still reach us: aliases, which make a few hundred bytes a structure of 9^9 references (a
`str()` of one label or a `repr` in an error message then stalls and exhausts memory), and
deep nesting, which PyYAML composes recursively (`RecursionError`, a traceback). Neither
appears in anything `kubectl` or a person writes, so both are refused with a one-line
`YamlError` naming the file (a `ValueError`: the CLI exits 2 on it).
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_DEPTH = 64  # as `scheduler.safejson.DOCUMENT`


class YamlError(ValueError):
    """The text is not YAML Tessera reads; the message names the document and why."""


class _Loader(yaml.SafeLoader):
    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise YamlError(f"YAML aliases are not accepted (line {mark.line + 1})")
        self._depth = getattr(self, "_depth", 0) + 1
        try:
            if self._depth > MAX_DEPTH:
                raise YamlError(f"nested deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def load_all(text: str | bytes, what: str, bad: str = "not valid YAML/JSON") -> list[Any]:
    """Every document of `text` (None documents left out); `YamlError` naming `what` (`bad`
    says a syntax error in the caller's words)."""
    try:
        return [d for d in yaml.load_all(text, Loader=_Loader) if d is not None]
    except YamlError as exc:
        raise YamlError(f"{what}: {exc}") from None
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0]
        raise YamlError(f"{what}: {bad} ({first})") from None


def load(text: str | bytes, what: str, bad: str = "not valid YAML/JSON") -> Any:
    """The one document of `text` (None when empty); `YamlError` naming `what`."""
    docs = load_all(text, what, bad)
    if len(docs) > 1:
        raise YamlError(f"{what}: expected one YAML document, found {len(docs)}")
    return docs[0] if docs else None
