"""`tessera serve` indexes the cluster before it answers, so no request pays for the index."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from cli.serve import _warm_when_synced, build_extender, build_service
from scheduler.settings import Settings
from scheduler.state.store import ClusterStore
from tests.conftest import REPO


@pytest.fixture(autouse=True)
def _unfreeze() -> Iterator[None]:
    yield
    gc.unfreeze()  # the service freezes the GC generation it built; give it back to the tests


def _indexed(ext: object) -> bool:
    snap = ext.view_for_all(ext.clock())  # type: ignore[attr-defined]
    return "fleet" in snap._fleet


def test_snapshot_service_is_indexed_before_the_first_request() -> None:
    service = build_service(
        Settings(), snapshot=REPO / "examples" / "cluster.json", kubeconfig=None, in_cluster=False
    )
    try:
        assert service.ready()
        assert _indexed(service.extender)
    finally:
        service.stop.set()


class _SyncedGroup:
    """Unit-test fake of `WatchGroup`: reports the first list as synced when released."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def wait_synced(self, timeout: float) -> bool:
        return self.release.wait(timeout)


def test_live_service_warms_once_the_watch_synced() -> None:
    store = ClusterStore()
    store.replace([])
    ext = build_extender(store, Settings())
    group, warmed = _SyncedGroup(), threading.Event()
    t = threading.Thread(target=_warm_when_synced, args=(group, ext, warmed), daemon=True)
    t.start()
    assert not warmed.wait(0.05)  # not synced: not warmed, so not ready
    group.release.set()
    t.join(10)
    assert warmed.is_set() and _indexed(ext)
