"""The live extender keeps the MIG window reserve too (`scheduler.policy.plugins.mig_reserve`):
its default profile runs the filter on views that carry the watched pods' demand mix."""

from __future__ import annotations

from scheduler.state.extender import Extender
from tests.builders import event, gpu_json, node_json, pod_json


def test_a_notebook_may_not_carve_the_last_window_a_service_asks_for(ext: Extender) -> None:
    # One MIG H100 (two 3g.40gb windows when empty). A priority-10 service takes a 3g.40gb:
    # one window left. The watch has seen one 3g at priority 10 and one 1g at priority 0:
    # kept = ceil(1/2 x 2) = 1, and a 1g.10gb would break the last free window (1 - 1 < 1).
    ext.store.apply(event(node_json("a", [gpu_json(0, mig=True)])))
    svc = pod_json("svc", {"tessera.io/mig-3g.40gb": 1}, priority=10)
    ext.store.apply(event(svc))
    assert ext.filter(svc, ["a"]).passed == ["a"]
    assert ext.bind("svc", "default", "uid-default-svc", "a") == ""
    nb = pod_json("nb", {"tessera.io/mig-1g.10gb": 1}, priority=0)
    ext.store.apply(event(nb))
    got = ext.filter(nb, ["a"])
    assert got.passed == []
    assert "1 kept for pods of priority above 0" in got.failed["a"]
    # The same instance for a pod of the service's priority: nothing asked above it.
    peer = pod_json("peer", {"tessera.io/mig-1g.10gb": 1}, priority=10)
    ext.store.apply(event(peer))
    assert ext.filter(peer, ["a"]).passed == ["a"]
