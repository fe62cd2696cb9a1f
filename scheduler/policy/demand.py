"""What the scheduler has seen pods ask for: the observed demand mix.

FGD judges a placement against the cluster's *typical pods*; a live scheduler does not know the
future, so Tessera uses the pods it has seen so far (`DemandLog.observe`, once per pod: the
extender feeds it the pods its watch delivers, the simulators each arriving pod). Three things
are derived from them, read by the default profile's plugins:

- `DemandMix.workload`: FGD's target workload (the most frequent shapes covering 95 % of the
  pods, `packing.fgd.typical_workload`), each shape with its CPU, GPU milli and count and the
  GPU models it accepts;
- `DemandMix.mig`: the dynamic MIG instances asked, by (priority, profile): the MIG window
  reserve (`plugins/mig_reserve.py`) keeps free windows for the profiles higher-priority pods
  ask;
- `DemandMix.pressure`: per GPU model, how much of it the pods that accept only a few models
  would need if the mix holds until the cluster is full (the scarce-model reserve):

      pressure(M) = sum over accepted-model sets S containing M of
                    (GPU milli asked with set S / all GPU milli asked) x C / cap(S)

  (C = the cluster's GPUs, cap(S) = GPUs of the models in S). 1 means: constrained pods alone
  will need all of M.

A mix is an immutable snapshot; `DemandLog` publishes a new one when the number of pods seen has
grown by a quarter since the last one (and at least every `REFRESH_PODS` pods), so the scorers'
tables are rebuilt a few dozen times per ten thousand pods, not per pod. MIG pods are counted in
the GPU demand (their model choice) but add no FGD shape: FGD's measure is for shares and whole
GPUs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from itertools import count
from typing import Any

from packing.fgd import FragTable, TargetWorkload, TaskShape, typical_workload
from scheduler.policy.records import MILLI_PER_GPU, PodRequest
from scheduler.policy.rules import canonical

REFRESH_PODS = 256
MAX_REMEMBERED = 100_000  # pod UIDs kept to count each pod once
_SERIAL = count(1)
POPULARITY_PCT = 95.0


def task_shape(pod: PodRequest) -> TaskShape | None:
    """The pod as one FGD task shape (accepted models canonical, `|`-joined), or None (MIG)."""
    g = pod.gpu
    if g is None:
        return TaskShape(pod.cpu_milli, 0, 0, "")
    if g.kind == "mig":
        return None
    allowed = pod.allowed_products
    models = "|".join(sorted({canonical(p) for p in allowed})) if allowed else ""
    whole = g.kind == "whole"
    milli = MILLI_PER_GPU if whole else g.milli
    return TaskShape(pod.cpu_milli, milli, g.count if whole else 1, models)


def gpu_milli(pod: PodRequest) -> int:
    g = pod.gpu
    if g is None:
        return 0
    return g.count * MILLI_PER_GPU if g.kind != "milli" else g.milli


@dataclass(frozen=True)
class DemandMix:
    """The pods seen so far, summarised (see the module docstring)."""

    shapes: Mapping[TaskShape, int] = field(default_factory=dict)
    gpu_milli: float = 0.0
    constrained: Mapping[frozenset[str], float] = field(default_factory=dict)
    pods: int = 0
    # Dynamic MIG pods seen, by (priority, profile as asked): the MIG window reserve's mix.
    mig: Mapping[tuple[int, str], int] = field(default_factory=dict)
    # Unique per mix: the key of derived arrays memoised in fleet indexes (hashing the
    # workload on every pod would cost more than the arrays).
    serial: int = field(default_factory=lambda: next(_SERIAL), compare=False)

    def table(self, models: tuple[str, ...], max_gpus: int) -> FragTable | None:
        """FGD's lookup table for `workload` over these models (memoised on the mix)."""
        workload = self.workload
        if workload is None:
            return None
        key = (models, max_gpus)
        got = self._tables.get(key)
        if got is None:
            got = self._tables[key] = FragTable(workload, models, max_gpus=max_gpus)
        return got

    @cached_property
    def _tables(self) -> dict[tuple[tuple[str, ...], int], FragTable]:
        return {}

    @cached_property
    def memo(self) -> dict[object, Any]:
        """Values derived from this mix alone (and the key), for callers to memoise."""
        return {}

    @cached_property
    def workload(self) -> TargetWorkload | None:
        if not self.shapes:
            return None
        return typical_workload(Counter(self.shapes), POPULARITY_PCT)

    def pressure(self, gpus_by_model: Mapping[str, int]) -> dict[str, float]:
        """Per model (canonical name), the pressure of the constrained pods on it."""
        out = dict.fromkeys(gpus_by_model, 0.0)
        total_gpus = float(sum(gpus_by_model.values()))
        if self.gpu_milli <= 0 or total_gpus <= 0:
            return out
        for models, milli in self.constrained.items():
            here = [m for m in models if m in gpus_by_model]
            cap = float(sum(gpus_by_model[m] for m in here))
            if cap > 0:
                for m in here:
                    out[m] += milli / self.gpu_milli * total_gpus / cap
        return out


class DemandLog:
    """The running count behind `DemandMix` (one per scheduler; not thread-safe on its own:
    the caller observes under its own lock or from one thread)."""

    def __init__(self) -> None:
        self._shapes: Counter[TaskShape] = Counter()
        self._gpu_milli = 0.0
        self._constrained: dict[frozenset[str], float] = {}
        self._pods = 0
        self._mig: Counter[tuple[int, str]] = Counter()
        self._seen: set[str] = set()
        self._mix = DemandMix()

    def observe(self, pod: PodRequest) -> None:
        """Count `pod` once (by UID; later calls for the same pod are ignored)."""
        if pod.uid in self._seen:
            return
        if len(self._seen) >= MAX_REMEMBERED:  # bounded memory: a pod asked about again
            self._seen.clear()  # after this is counted twice, a negligible skew of the mix
        self._seen.add(pod.uid)
        self._pods += 1
        shape = task_shape(pod)
        if shape is not None:
            self._shapes[shape] += 1
        g = pod.gpu
        if g is not None and g.kind == "mig" and g.dynamic and g.profile is not None:
            self._mig[(pod.priority, g.profile)] += g.count
        milli = gpu_milli(pod)
        self._gpu_milli += milli
        if milli and pod.allowed_products:
            models = frozenset(canonical(p) for p in pod.allowed_products)
            self._constrained[models] = self._constrained.get(models, 0.0) + milli
        last = self._mix.pods
        if self._pods - last >= min(REFRESH_PODS, max(1, last // 4)):
            self._mix = DemandMix(
                dict(self._shapes),
                self._gpu_milli,
                dict(self._constrained),
                self._pods,
                dict(self._mig),
            )

    def mix(self) -> DemandMix:
        return self._mix
