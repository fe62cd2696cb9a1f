"""Latency objectives on request wait: `p95=2s`, `p99=500ms,p50=1s` (s, ms or m)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_TERM = re.compile(r"^p(\d{1,2}(?:\.\d+)?)=(\d+(?:\.\d+)?)(ms|s|m)$")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0}


@dataclass(frozen=True)
class Objective:
    quantile: float  # percent, 0 < q < 100
    seconds: float

    def label(self) -> str:
        return f"p{self.quantile:g} wait <= {self.seconds:g} s"


def parse_slo(text: str) -> tuple[Objective, ...]:
    out = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        m = _TERM.match(part)
        if m is None or not 0 < float(m.group(1)) < 100:
            raise ValueError(f"bad --slo term {part!r}; expected pQ=VALUE with Q in 1..99 and "
                             "a unit s, ms or m, e.g. p95=2s")
        out.append(Objective(float(m.group(1)), float(m.group(2)) * _UNIT[m.group(3)]))
    if not out:
        raise ValueError("--slo is empty; e.g. --slo p95=2s")
    return tuple(out)
