"""One place where bad input becomes a one-line message and exit code 2."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

import typer

P = ParamSpec("P")
R = TypeVar("R")


class BadInput(ValueError):
    """Input the user can fix; the message names the value that was wrong."""


def exits_2_on_bad_input(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn ValueError/KeyError/FileNotFoundError into `error: <message>` and exit code 2."""

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except (ValueError, KeyError, FileNotFoundError, IsADirectoryError) as exc:
            msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
            print(f"error: {msg}", file=sys.stderr)
            raise typer.Exit(code=2) from None

    return wrapper


def bounded(option: str, value: float, lo: float, hi: float, *, above_lo: bool = False) -> None:
    """`option`'s value must be finite and in lo..hi (above lo when `above_lo`): NaN passed
    every `<` check (`--slo-wait nan` counted every request a miss, `--cold-start nan` never
    ended), and a huge count ran until killed or overflowed an int16 column."""
    if not (math.isfinite(value) and lo <= value <= hi) or (above_lo and value == lo):
        low = f"> {lo:g}" if above_lo else f">= {lo:g}"
        raise BadInput(f"{option} must be {low} and <= {hi:g}, got {value}")
