"""Discrete-event engine: a heap of events on a virtual clock, deterministic tie-breaks, one
injected seeded RNG, observer hooks. No wall clock, no global randomness, no plotting."""

from simulator.engine.engine import Engine, InvariantViolation, Observer
from simulator.engine.events import Event, EventKind

__all__ = ["Engine", "Event", "EventKind", "InvariantViolation", "Observer"]
