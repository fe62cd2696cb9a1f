"""Engine: ordering by (time, kind, seq), virtual clock, observers, debug invariants."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.engine import Engine, Event, EventKind, InvariantViolation


def _recording_engine(debug: bool = False) -> tuple[Engine, list[tuple[float, str, object]]]:
    eng = Engine(np.random.default_rng(0), debug=debug)
    log: list[tuple[float, str, object]] = []
    for kind in EventKind:
        eng.on(kind, lambda e, ev: log.append((e.now, ev.kind.name, ev.payload)))
    return eng, log


def test_ties_break_by_kind_then_insertion_order():
    eng, log = _recording_engine()
    eng.schedule(5, EventKind.ARRIVAL, "a1")
    eng.schedule(5, EventKind.FINISH, "f1")  # same time: FINISH (0) before ARRIVAL (3)
    eng.schedule(1, EventKind.CYCLE, "c")
    eng.schedule(5, EventKind.ARRIVAL, "a2")  # same time and kind: scheduled later, runs later
    assert eng.run() == 4
    assert log == [
        (1.0, "CYCLE", "c"),
        (5.0, "FINISH", "f1"),
        (5.0, "ARRIVAL", "a1"),
        (5.0, "ARRIVAL", "a2"),
    ]


def test_handlers_schedule_more_and_clock_is_virtual():
    eng = Engine(np.random.default_rng(0))
    seen: list[float] = []

    def cycle(e: Engine, ev: Event) -> None:
        seen.append(e.now)
        if e.now < 3:
            e.schedule(e.now + 1.0, EventKind.CYCLE)  # periodic 1 s cycle

    eng.on(EventKind.CYCLE, cycle)
    eng.schedule(0, EventKind.CYCLE)
    eng.run()
    assert seen == [0.0, 1.0, 2.0, 3.0]
    with pytest.raises(ValueError, match="before now"):
        eng.schedule(1.0, EventKind.CYCLE)


def test_run_until_stops_and_advances_clock():
    eng, log = _recording_engine()
    for t in (1, 2, 10):
        eng.schedule(t, EventKind.ARRIVAL, t)
    assert eng.run(until=5) == 2 and eng.now == 5 and eng.pending() == 1


def test_observers_see_every_event_and_invariants_fire_in_debug():
    eng, _ = _recording_engine(debug=True)
    seen = []
    eng.observe(lambda e, ev: seen.append(ev.payload))
    state = {"used": 0}
    eng.invariant(lambda: None if state["used"] <= 1000 else f"GPU used {state['used']} > 1000")
    eng.schedule(0, EventKind.ARRIVAL, "x")
    eng.run()
    assert seen == ["x"]
    state["used"] = 1200
    eng.schedule(1, EventKind.ARRIVAL, "y")
    with pytest.raises(InvariantViolation, match=r"event #2 \(ARRIVAL at t=1.0\): GPU used 1200"):
        eng.run()


def test_bad_setup_is_rejected():
    with pytest.raises(TypeError, match="Generator"):
        Engine(42)  # type: ignore[arg-type]
    eng = Engine(np.random.default_rng(0))
    eng.schedule(0, EventKind.HEALTH)
    with pytest.raises(LookupError, match="HEALTH"):
        eng.run()
    with pytest.raises(ValueError, match="finite"):
        eng.schedule(float("nan"), EventKind.ARRIVAL)


@given(st.lists(st.tuples(st.integers(0, 5), st.sampled_from(list(EventKind))), max_size=40))
def test_processing_order_is_sorted_by_time_kind_seq(items):
    eng = Engine(np.random.default_rng(0))
    order: list[tuple[float, int, int]] = []
    for kind in EventKind:
        eng.on(kind, lambda e, ev: order.append((ev.time, int(ev.kind), ev.seq)))
    for t, k in items:
        eng.schedule(t, k)
    eng.run()
    assert order == sorted(order) and len(order) == len(items)
