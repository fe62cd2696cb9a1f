"""The state layer's errors: one-line messages naming what was wrong."""

from __future__ import annotations


class StateError(ValueError):
    """Base class: bad input the caller can fix (a ValueError, so the CLI maps it to exit 2)."""


class PodParseError(StateError):
    """A Pod object that cannot be understood (bad quantity, two GPU kinds, ...)."""


class NodeParseError(StateError):
    """A Node object, or its `tessera.io/gpus` annotation, that cannot be understood."""


class UnknownPodError(StateError, KeyError):
    """A verb named a pod the extender has never seen (also a KeyError, for lookups)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""
