"""The packing engine's error hierarchy: every message names the bad value and the alternatives."""

from __future__ import annotations

from collections.abc import Iterable


def _known(alternatives: Iterable[object]) -> str:
    return ", ".join(str(a) for a in alternatives)


class PackingError(ValueError):
    """Bad input to the packing engine (a ValueError, so the CLI maps it to exit 2)."""


class UnknownGpuModelError(PackingError):
    def __init__(self, name: object, known: Iterable[str]) -> None:
        super().__init__(f"unknown GPU model {name!r}; known models: {_known(known)}")
        self.name = name


class UnknownProfileError(PackingError):
    def __init__(self, model: str, profile: object, known: Iterable[str]) -> None:
        super().__init__(
            f"unknown MIG profile {profile!r} for {model}; known profiles: {_known(known)}"
        )
        self.model = model
        self.profile = profile


class InvalidPlacementError(PackingError):
    """A MIG instance cannot sit where it was asked to (bad start, overlap, max count...)."""


class InvalidCountError(PackingError):
    def __init__(self, what: str, value: object) -> None:
        super().__init__(f"invalid count {value!r} for {what}: counts are non-negative integers")
        self.what = what
        self.value = value
