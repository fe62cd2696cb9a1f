"""Parsers of real `nvidia-smi mig -lgip` and `nvidia-smi mig -lgipp` text (no I/O: text in).

`-lgip` prints one two-line box per GPU instance profile:
    |   0  MIG 1g.10gb         19     7/7        9.75       No     16     1     0   |
    |                                                               1     1     0   |
(GPU, name, ID, free/total instances, memory GiB, P2P, SM, DEC, ENC / CE, JPEG, OFA).
`-lgipp` prints one line per profile: `GPU  0 Profile ID 19 Placements: {0,1,2,3,4,5,6}:1`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packing.errors import PackingError

_LGIP_ROW = re.compile(
    r"^\|\s*(?P<gpu>\d+)\s+MIG\s+(?P<name>\S+)\s+(?P<id>\d+)\s+(?P<free>\d+)/(?P<total>\d+)\s+"
    r"(?P<gib>\d+(?:\.\d+)?)\s+(?P<p2p>\S+)\s+(?P<sm>\d+)\s+(?P<dec>\d+)\s+(?P<enc>\d+)\s*\|$"
)
_LGIP_CONT = re.compile(r"^\|\s+(?P<ce>\d+)\s+(?P<jpeg>\d+)\s+(?P<ofa>\d+)\s*\|$")
_LGIPP_ROW = re.compile(
    r"^GPU\s+(?P<gpu>\d+)\s+Profile\s+ID\s+(?P<id>\d+)\s+Placements?\s*:\s*"
    r"\{(?P<starts>[\d,\s]*)\}\s*:\s*(?P<size>\d+)\s*$"
)


@dataclass(frozen=True)
class LgipRow:
    """One profile as `nvidia-smi mig -lgip` prints it (memory only to 2 decimals of GiB)."""

    gpu: int
    name: str
    id: int
    free: int
    total: int
    memory_gib: float
    sm: int
    decoders: int
    encoders: int
    copy_engines: int
    jpeg: int
    ofa: int


@dataclass(frozen=True)
class LgippRow:
    """One profile's possible placements: memory-slice starts and the size in memory slices."""

    gpu: int
    id: int
    starts: tuple[int, ...]
    size: int


def parse_lgip(text: str) -> tuple[LgipRow, ...]:
    """Rows of `nvidia-smi mig -lgip`; raises PackingError when no profile row is found."""
    rows: list[LgipRow] = []
    pending: dict[str, str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        m = _LGIP_ROW.match(line)
        if m:
            pending = m.groupdict()
            continue
        c = _LGIP_CONT.match(line)
        if c and pending is not None:
            p = pending
            rows.append(
                LgipRow(
                    gpu=int(p["gpu"]), name=p["name"], id=int(p["id"]), free=int(p["free"]),
                    total=int(p["total"]), memory_gib=float(p["gib"]), sm=int(p["sm"]),
                    decoders=int(p["dec"]), encoders=int(p["enc"]),
                    copy_engines=int(c["ce"]), jpeg=int(c["jpeg"]), ofa=int(c["ofa"]),
                )
            )
            pending = None
    if not rows:
        raise PackingError("no GPU instance profile rows found in `nvidia-smi mig -lgip` text")
    return tuple(rows)


def parse_lgipp(text: str) -> tuple[LgippRow, ...]:
    """Rows of `nvidia-smi mig -lgipp`; raises PackingError when no placement line is found."""
    rows: list[LgippRow] = []
    for raw in text.splitlines():
        m = _LGIPP_ROW.match(raw.strip())
        if not m:
            continue
        starts = tuple(int(s) for s in m["starts"].replace(" ", "").split(",") if s)
        rows.append(LgippRow(gpu=int(m["gpu"]), id=int(m["id"]), starts=starts,
                             size=int(m["size"])))
    if not rows:
        raise PackingError("no placement lines found in `nvidia-smi mig -lgipp` text")
    return tuple(rows)
