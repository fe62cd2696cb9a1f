"""A tolerant reader of Prometheus exposition text (what dcgm-exporter and the agent serve).

Real exporter output is not always valid: the shipped A800 sample ends some lines in
"ERROR - FAILED TO CONVERT TO STRING", the README sample has a space after a comma inside the
braces. A bad line is skipped and counted; it never aborts the scrape.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_-]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|})')
_UNESCAPE = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float
    timestamp_s: float | None = None


@dataclass
class Parsed:
    samples: list[Sample] = field(default_factory=list)
    bad_lines: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)


def _unescape(v: str) -> str:
    return re.sub(r'\\[\\"n]', lambda m: _UNESCAPE[m.group(0)], v)


def parse_line(line: str) -> Sample:
    """One sample line; raises ValueError naming what is wrong."""
    m = _NAME.match(line)
    if not m:
        raise ValueError("no metric name")
    name, pos, labels = m.group(0), m.end(), {}
    if pos < len(line) and line[pos] == "{":
        pos += 1
        if line[pos : pos + 1] == "}":
            pos += 1
        while line[pos - 1] != "}":
            lm = _LABEL.match(line, pos)
            if not lm:
                raise ValueError("malformed labels")
            labels[lm.group(1)] = _unescape(lm.group(2))
            pos = lm.end()
    rest = line[pos:].split()
    if not rest or len(rest) > 2:
        raise ValueError("expected a value and an optional timestamp")
    try:
        value = float(rest[0])
        ts = float(rest[1]) / 1000.0 if len(rest) == 2 else None
    except ValueError:
        raise ValueError(f"value {rest[0]!r} is not a number") from None
    if ts is not None and not math.isfinite(ts):
        raise ValueError("bad timestamp")
    return Sample(name, labels, value, ts)


def parse(text: str) -> Parsed:
    out = Parsed()
    # Split on "\n" only: a label value may hold other line breaks (e.g. "\r") verbatim.
    for no, raw in enumerate(text.split("\n"), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            out.samples.append(parse_line(line))
        except (ValueError, IndexError) as exc:
            out.bad_lines.append((no, str(exc) or type(exc).__name__))
    return out
