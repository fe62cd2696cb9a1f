"""The event loop. Handlers react to one kind of event and may schedule more; observers see
every event after its handler ran (metrics live there); invariants, when debug is on, are
checked after every event so a bug surfaces at the event that caused it."""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from simulator.engine.events import Event, EventKind

Handler = Callable[["Engine", Event], None]
Invariant = Callable[[], str | None]  # returns a description of what is wrong, or None


class Observer(Protocol):
    def __call__(self, engine: Engine, event: Event) -> None: ...


class InvariantViolation(AssertionError):
    """Raised in debug mode when a state invariant fails after an event."""


class Engine:
    def __init__(self, rng: np.random.Generator, *, debug: bool = False) -> None:
        if not isinstance(rng, np.random.Generator):
            raise TypeError("Engine needs a numpy.random.Generator (seeded by the caller)")
        self.rng = rng
        self.debug = debug
        self.now = 0.0
        self.processed = 0
        # (time, kind, seq, event): `Event`'s own order as a plain tuple, compared in C (seq is
        # unique, so the event itself is never compared).
        self._heap: list[tuple[float, int, int, Event]] = []
        self._seq = 0
        self._handlers: dict[EventKind, Handler] = {}
        self._observers: list[Observer] = []
        self._invariants: list[Invariant] = []

    def on(self, kind: EventKind, handler: Handler) -> None:
        if kind in self._handlers:
            raise ValueError(f"a handler for {kind.name} is already registered")
        self._handlers[kind] = handler

    def observe(self, observer: Observer) -> None:
        self._observers.append(observer)

    def invariant(self, check: Invariant) -> None:
        self._invariants.append(check)

    def schedule(self, time: float, kind: EventKind, payload: Any = None) -> Event:
        if not math.isfinite(time):
            raise ValueError(f"event time must be finite, got {time!r}")
        if time < self.now:
            raise ValueError(f"cannot schedule {kind.name} at {time} before now ({self.now})")
        event = Event(float(time), kind, self._seq, payload)
        self._seq += 1
        heapq.heappush(self._heap, (event.time, event.kind, event.seq, event))
        return event

    def pending(self) -> int:
        return len(self._heap)

    def step(self) -> Event | None:
        """Process the next event; None when the queue is empty."""
        if not self._heap:
            return None
        event = heapq.heappop(self._heap)[3]
        handler = self._handlers.get(event.kind)
        if handler is None:
            raise LookupError(f"no handler registered for {event.kind.name} events")
        self.now = event.time
        handler(self, event)
        self.processed += 1
        for obs in self._observers:
            obs(self, event)
        if self.debug:
            for check in self._invariants:
                problem = check()
                if problem is not None:
                    raise InvariantViolation(
                        f"after event #{self.processed} ({event.kind.name} at t={event.time}): "
                        f"{problem}"
                    )
        return event

    def run(self, until: float | None = None) -> int:
        """Process events (up to and including time ``until``); returns how many were run."""
        n = 0
        while self._heap and (until is None or self._heap[0][0] <= until):
            self.step()
            n += 1
        if until is not None and until > self.now:
            self.now = until
        return n
