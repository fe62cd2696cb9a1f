"""One place where bad input becomes a one-line message and exit code 2."""

from __future__ import annotations

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
