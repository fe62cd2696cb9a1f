"""The packing engine's error hierarchy: every message names the bad value and the alternatives."""

from __future__ import annotations

from collections.abc import Iterable


def _known(alternatives: Iterable[object]) -> str:
    return ", ".join(str(a) for a in alternatives)


def _echo(value: object) -> str:
    """The bad value as typed, cut to 60 characters: a 5,000-character `--gpu` came back whole.
    (packing imports nothing of ours, so scheduler's own `_short` cannot be reused here.)"""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class PackingError(ValueError):
    """Bad input to the packing engine (a ValueError, so the CLI maps it to exit 2)."""


class UnknownGpuModelError(PackingError):
    def __init__(self, name: object, known: Iterable[str]) -> None:
        super().__init__(f"unknown GPU model {_echo(name)}; known models: {_known(known)}")
        self.name = name


class UnknownProfileError(PackingError):
    def __init__(self, model: str, profile: object, known: Iterable[str]) -> None:
        super().__init__(
            f"unknown MIG profile {_echo(profile)} for {model}; known profiles: {_known(known)}"
        )
        self.model = model
        self.profile = profile


class InvalidPlacementError(PackingError):
    """A MIG instance cannot sit where it was asked to (bad start, overlap, max count...)."""


class InvalidCountError(PackingError):
    def __init__(self, what: str, value: object) -> None:
        super().__init__(
            f"invalid count {_echo(value)} for {what}: counts are non-negative integers"
        )
        self.what = what
        self.value = value
