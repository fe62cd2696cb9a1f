"""Latency objectives on request wait: `p95=2s`, `p99=500ms,p50=1s` (s, ms or m)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

# ASCII digits only, to the very end ('$' let "p95=2s\n" through; '\d' matched '٣')
_TERM = re.compile(r"p(\d{1,2}(?:\.\d+)?)=(\d{1,12}(?:\.\d{1,9})?)(ms|s|m)", re.ASCII)
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0}


@dataclass(frozen=True)
class Objective:
    quantile: float  # percent, 0 < q < 100
    seconds: float

    def label(self) -> str:
        return f"p{self.quantile:g} wait <= {self.seconds:g} s"


def parse_slo(text: str) -> tuple[Objective, ...]:
    out: list[Objective] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        m = _TERM.fullmatch(part)
        if m is None or not 0 < float(m.group(1)) < 100:
            raise ValueError(f"bad --slo term {part[:40]!r}; expected pQ=VALUE with Q in 1..99 "
                             "and a unit s, ms or m, e.g. p95=2s")
        q = float(m.group(1))
        if any(o.quantile == q for o in out):  # two bounds on one quantile: a typo, not a plan
            raise ValueError(f"bad --slo term {part!r}: p{q:g} given twice")
        seconds = float(m.group(2)) * _UNIT[m.group(3)]
        assert math.isfinite(seconds)  # at most 12 digits: "p95=1e400s" cannot reach here
        out.append(Objective(q, seconds))
    if not out:
        raise ValueError("--slo is empty; e.g. --slo p95=2s")
    return tuple(out)
