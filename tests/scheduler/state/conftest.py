"""A real ClusterStore + Extender on a fake clock, with a recording Binder (a test fake)."""

from __future__ import annotations

import threading

import pytest

from scheduler.policy.model import Placement
from scheduler.state.extender import BindError, Extender
from scheduler.state.store import ClusterStore


class RecordingBinder:
    """Test fake of the Kubernetes edge: records binds; `fail` makes the next bind raise."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str, str, Placement]] = []
        self.fail = False
        self._lock = threading.Lock()

    def bind(self, namespace: str, name: str, uid: str, node: str, placement: Placement) -> None:
        if self.fail:
            raise BindError("apiserver said 409 Conflict")
        with self._lock:
            self.calls.append((namespace, name, uid, node, placement))


class Clock:
    def __init__(self, t: float = 1_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ext(clock: Clock) -> Extender:
    return Extender(ClusterStore(), RecordingBinder(), clock=clock)
