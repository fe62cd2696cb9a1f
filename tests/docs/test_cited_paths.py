"""The docs name real code: every module path and repository file they cite in backticks exists.

Docs drift when code moves. This reads README.md and docs/*.md, takes each backticked token that
names one of our packages (`scheduler.policy.model`, `simulator.replay.study.REPLAY_POLICIES`) or
a repository file (`simulator/traces/openb.py`), and checks it resolves. Placeholders such as
`<name>` are skipped, since they name what a reader will create.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PACKAGES = ("packing", "scheduler", "simulator", "cli")
EXTENSIONS = {"py", "md", "yaml", "yml", "json", "csv", "txt", "toml", "tmpl", "sh", "html"}
TOKEN = re.compile(r"`([^`\s]+)`")
_PKG = "|".join(PACKAGES)
DOTTED = re.compile(rf"^({_PKG})(\.[A-Za-z_][A-Za-z0-9_]*)+$")
_DIRS = f"{_PKG}|tests|benchmarks|manifests|scripts|docs"
FILE = re.compile(rf"^({_DIRS})/[\w./-]+\.(py|md|yaml|sh|json)$")


def _tokens() -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        for tok in TOKEN.findall(doc.read_text(encoding="utf-8")):
            if "<" in tok or "*" in tok:
                continue
            if tok.rsplit(".", 1)[-1] in EXTENSIONS and not FILE.match(tok):
                continue  # a bare file name such as `scheduler.yaml`, not a module
            if DOTTED.match(tok) or FILE.match(tok):
                found.append((doc.name, tok))
    return sorted(set(found))


def _resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


def test_docs_cite_something() -> None:
    # 7 docs at the time of writing; the check below is vacuous if the regexes match nothing
    assert len(_tokens()) >= 20


@pytest.mark.parametrize(("doc", "token"), _tokens())
def test_cited_path_exists(doc: str, token: str) -> None:
    if DOTTED.match(token):
        assert _resolves(token), f"{doc}: `{token}` does not import"
    else:
        assert (ROOT / token).exists(), f"{doc}: `{token}` is not in the repository"
