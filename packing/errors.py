"""The packing engine's error hierarchy: every message names the bad value and the alternatives."""

from __future__ import annotations

from collections.abc import Iterable


def _known(alternatives: Iterable[object]) -> str:
    return ", ".join(str(a) for a in alternatives)


def echo(value: object, width: int = 60) -> str:
    """The bad value as typed (`repr`), cut to `width` characters: a 5,000-character `--gpu`
    came back whole. The one such helper: the scheduler's error messages use it too."""
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


class PackingError(ValueError):
    """Bad input to the packing engine (a ValueError, so the CLI maps it to exit 2)."""


class UnknownGpuModelError(PackingError):
    def __init__(self, name: object, known: Iterable[str]) -> None:
        super().__init__(f"unknown GPU model {echo(name)}; known models: {_known(known)}")
        self.name = name


class UnknownProfileError(PackingError):
    def __init__(self, model: str, profile: object, known: Iterable[str]) -> None:
        super().__init__(
            f"unknown MIG profile {echo(profile)} for {model}; known profiles: {_known(known)}"
        )
        self.model = model
        self.profile = profile


class InvalidPlacementError(PackingError):
    """A MIG instance cannot sit where it was asked to (bad start, overlap, max count...)."""


class InvalidCountError(PackingError):
    def __init__(self, what: str, value: object) -> None:
        super().__init__(
            f"invalid count {echo(value)} for {what}: counts are non-negative integers"
        )
        self.what = what
        self.value = value
