"""kube-default behind kube-scheduler's queue order: a twin-only variant, not in the registry.

`KubeDefaultPolicy` retries its waiting pods in priority then arrival order. kube-scheduler
tries them from its active queue (priority, then when each last failed or was created) and,
as that empties, from the backoff queue by expiry, so a pod that failed often waits behind
newer ones (`KubeHost.queue_key`, the same order `tessera-static-kube` takes with
`backoff_order`); pods whose keys tie go in the order of their own last failure, so the order
of one retry pass carries into the next (`KubeQueue`). Measured on the Tiresias slice
(benchmarks/RESULTS.md, digital twin round 5) it moves the model's p95 wait to the real
kube-scheduler's; with the tie order (round 6, read in a `--v=5` log) it also reproduces the
20-job slice's partial-gang deadlock. The bundled study keeps `kube-default` as it is.
"""

from __future__ import annotations

import random
from dataclasses import replace

from simulator.policies.replay.kube_default import KubeDefaultPolicy
from simulator.policies.replay.kube_host import KubeHost
from simulator.policies.replay.tessera_kube import KubeQueue
from simulator.replay.protocol import Start
from simulator.workloads.model import NodeSpec


class KubeDefaultQueuedPolicy(KubeDefaultPolicy):
    name = "kube-default-queued"

    def __init__(self, nodes: tuple[NodeSpec, ...], rng: random.Random, host: KubeHost) -> None:
        super().__init__(nodes, rng)
        self.host = host
        self._queue = KubeQueue(replace(host, backoff_order=True))
        self._pending = self._queue

    def schedule(self, now: float) -> list[Start]:
        self._queue.now = now
        return super().schedule(now)
