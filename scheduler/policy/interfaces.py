"""The plugin interfaces, after kube-scheduler's scheduling framework.

A filter plugin answers "can this pod run on this node?" with a `Status`; a score plugin says how
good the node is as a float in [0, 1] (1 = best). Both are pure: they read the immutable
`ClusterState` and nothing else (no clock, no I/O).

A plugin may also answer for many nodes at once over the fleet index (`FleetIndex`, one row
per node): `filter_rows` / `score_rows`, in the plugin's own file, reading the plugin's own
settings. `scheduler.policy.framework` uses them when every plugin of the profile has one and
none declines the pod; otherwise it asks each plugin node by node. Both paths give the same
verdicts and scores (tests/scheduler/policy/test_batch.py); only the speed differs.

Work every plugin of one pod needs (the placement the pod would get on a node: kube-scheduler's
PreScore) is computed once per pod and handed to each plugin in a `CycleState`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Generic, Protocol, TypeVar, overload, runtime_checkable

import numpy as np
import numpy.typing as npt

from scheduler.policy.fit import choose
from scheduler.policy.fleet_index import FleetIndex
from scheduler.policy.model import ClusterState, Node, Placement, PodRequest
from scheduler.policy.status import Code, Status

MAX_SCORE = 10  # the extender's HTTP scale (kube-scheduler's MaxExtenderPriority)
MAX_LEVEL = 100  # kube-scheduler's node-score scale (MaxNodeScore), for in-process rankers

Rows = npt.NDArray[np.intp]
Bools = npt.NDArray[np.bool_]
Floats = npt.NDArray[np.float64]
T = TypeVar("T")


def choose_placement(state: ClusterState, pod: PodRequest, node: Node) -> Placement | None:
    """The exact GPUs (and MIG starts / milli shares) `pod` would get on `node`, or None.

    Deterministic: the same state and pod always give the same placement.
    """
    return choose(state.capacity(node.name), pod)


class _Lazy(Generic[T]):
    """A `CycleState` attribute computed on its first read (`CycleState._fill_in`), then a
    plain instance attribute, found before this (non-data) descriptor. Not `__getattr__`:
    reaching that costs a failed lookup and its AttributeError, and not
    `functools.cached_property`, which takes a lock on each first read: this runs for
    several cycles per pod."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> _Lazy[T]: ...
    @overload
    def __get__(self, obj: CycleState, owner: type | None = None) -> T: ...
    def __get__(self, obj: CycleState | None, owner: type | None = None) -> _Lazy[T] | T:
        if obj is None:
            return self
        got: T = obj._fill_in(self.name)
        return got


class CycleState:
    """Work shared by every plugin for one pod in one filter or prioritize call.

    Per node: the placement the pod would get (memoised, so N scorers cost one placement search
    per node, not N). For the batch methods: the candidate names, their rows in the fleet index
    (`rows`, with `known` False for names not in the snapshot), and `shared(key, compute)`
    for arrays several plugins read (computed by the first that asks).
    """

    def __init__(self, state: ClusterState, pod: PodRequest, names: Sequence[str] = ()) -> None:
        self.state, self.pod, self.names = state, pod, names
        self._placements: dict[str, Placement | None] = {}
        self._shared: dict[object, Any] = {}

    # Computed on first read (`_Lazy`), then plain attributes (plugins read them many times):
    # `index` the snapshot's fleet index; `rows` the fleet-index row of each candidate name
    # (0 for unknown names), `known` whether the name is in the snapshot (`_rows` both).
    index = _Lazy[FleetIndex]()
    _rows = _Lazy[tuple[Rows, Bools]]()
    rows = _Lazy[Rows]()
    known = _Lazy[Bools]()

    def subset(self, positions: Rows) -> CycleState:
        """A cycle for the candidates at `positions` only (same state, pod and index; rows
        taken from this one, not looked up again); nothing computed for this one is shared."""
        out = CycleState(self.state, self.pod, _Picked(self.names, positions))
        rows, known = self.rows.take(positions), self.known.take(positions)
        # The lazy attributes, filled in (all four: each first read costs a Python
        # frame, and subsets are made several times per pod).
        got = out.__dict__
        got["index"], got["_rows"] = self.index, (rows, known)
        got["rows"], got["known"] = rows, known
        got["_parent"] = (self, positions)
        return out

    def by_state(self, scored: CycleState, inverse: Rows) -> None:
        """Note that `scored` (a `subset` of this cycle, one candidate per distinct row state)
        stands for this cycle's candidates, candidate i for state `inverse[i]` (the framework's
        `_distinct`), so that a subset of this cycle can read what `scored` shared
        (`from_parent`). Its shared values are kept, not `scored` itself: `scored` links back
        to this cycle (`subset`), and the pair would be a reference cycle that only the
        garbage collector frees (about 18 objects a pod in the fill, arrays included)."""
        self._shared[_BY_STATE] = (scored._shared, inverse)

    def from_parent(self, key: object) -> tuple[Any, Rows] | None:
        """(a value shared under `key` with one entry per candidate, this cycle's candidates'
        positions in it) when this cycle is a `subset` of one whose own cycle or by-state cycle
        (`by_state`) shared it, else None. Values of row-only functions: a candidate's entry
        in the by-state cycle is its state's representative's, the same value."""
        link: tuple[CycleState, Rows] | None = self.__dict__.get("_parent")
        if link is None:
            return None
        up, positions = link
        got = up._shared.get(key)
        if got is not None:
            return got, positions
        held = up._shared.get(_BY_STATE)
        if held is None:
            return None
        got = held[0].get(key)
        return None if got is None else (got, held[1].take(positions))

    def parent_states(self) -> Rows | None:
        """For a `subset` of a cycle scored by state (`by_state`): each candidate's state
        position there (candidates with one position are in one row state), else None."""
        link: tuple[CycleState, Rows] | None = self.__dict__.get("_parent")
        if link is None:
            return None
        held = link[0]._shared.get(_BY_STATE)
        return None if held is None else held[1].take(link[1])

    def placement(self, node: Node) -> Placement | None:
        if node.name not in self._placements:
            self._placements[node.name] = choose_placement(self.state, self.pod, node)
        return self._placements[node.name]

    def _fill_in(self, name: str) -> Any:
        """The lazy attribute `name` (`_Lazy`), computed and stored: the first read of any of
        the row fields sets all three (and `index`): one call, not one per field."""
        got = self.__dict__
        if name == "index":
            got["index"] = value = self.state.fleet()
            return value
        index = got.get("index")
        if index is None:
            index = got["index"] = self.state.fleet()
        rows = got["_rows"] = index.rows_of(self.names)
        got["rows"], got["known"] = rows
        return got[name]

    def shared(self, key: object, compute: Callable[[], T]) -> T:
        if key not in self._shared:
            self._shared[key] = compute()
        got: T = self._shared[key]
        return got


_BY_STATE = ("by-state",)  # `CycleState.by_state`'s entry in `_shared`


class _Picked(Sequence[str]):
    """The names at `positions` of `names`, looked up only when read (the batch scorers of a
    deduplicated cycle read its rows, rarely its names)."""

    def __init__(self, names: Sequence[str], positions: Rows) -> None:
        self._names, self._positions = names, positions

    def __len__(self) -> int:
        return len(self._positions)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self._names[j] for j in self._positions[i].tolist()]
        return self._names[int(self._positions[i])]


def cycle_for(state: ClusterState, pod: PodRequest, cycle: CycleState | None) -> CycleState:
    """`cycle` when the framework passed one (it did for this pod), else a fresh one: a plugin
    called on its own still works."""
    if cycle is not None and cycle.state is state and cycle.pod is pod:
        return cycle
    return CycleState(state, pod)


@dataclass(frozen=True)
class RowVerdicts:
    """A batch filter's answer for the candidate rows of a `CycleState`.

    `code[i]` is the `Code` of row i (SUCCESS, UNSCHEDULABLE or UNSCHEDULABLE_AND_UNRESOLVABLE;
    None: every row passes);
    `reasons` gives one summarised reason per failing code (the per-node path has per-node
    detail; `explain` shows it). Rows in `exact` are ones the plugin cannot judge from the index:
    the framework asks the per-node path for them.
    """

    code: npt.NDArray[np.int8] | None
    reasons: dict[Code, str] = field(default_factory=dict)
    exact: Bools | None = None

    @classmethod
    def all_pass(cls, exact: Bools | None = None) -> RowVerdicts:
        if exact is None and cls is RowVerdicts:
            return _ALL_PASS  # one answer for all (frozen; nothing writes its empty reasons)
        return cls(None, {}, exact)


_ALL_PASS = RowVerdicts(None, {})


@runtime_checkable
class FilterPlugin(Protocol):
    name: str

    def filter(self, state: ClusterState, pod: PodRequest, node: Node) -> Status: ...


@runtime_checkable
class BatchFilterPlugin(FilterPlugin, Protocol):
    def filter_rows(self, cycle: CycleState) -> RowVerdicts | None:
        """Verdicts for every candidate row, or None when this plugin cannot judge this pod
        from the index (the framework then runs the per-node path)."""
        ...


@runtime_checkable
class ScorePlugin(Protocol):
    """A scorer may also set the class attribute `state_only = True` (not part of the
    Protocol: absent means False): a promise that its `score_rows` value for a row depends
    only on that row's fleet-index columns (`FleetIndex.state_ids`) and on what is the same
    for every row of the call (the pod, the snapshot's demand and clock, its settings), never
    on the node's name, its row position or the other candidates. When every scorer of a
    profile promises it, the framework scores one row per distinct state and copies the
    values to the rest."""

    name: str

    def score(
        self, state: ClusterState, pod: PodRequest, node: Node, cycle: CycleState | None = None
    ) -> float:
        """A value in [0, 1]; higher is better. Called only on nodes that passed filters."""
        ...


@runtime_checkable
class BatchScorePlugin(ScorePlugin, Protocol):
    def score_rows(self, cycle: CycleState) -> Floats | None:
        """`score` for every candidate row (NaN: a row left to the per-node path), or None
        when this plugin cannot score this pod from the index."""
        ...


@runtime_checkable
class TieBreakPlugin(Protocol):
    name: str

    def tie_costs(self, cycle: CycleState) -> Floats | None:
        """A cost per candidate of `cycle` (the nodes sharing the top level; lower is better),
        or None to leave the tie to the caller's order."""
        ...


@dataclass(frozen=True)
class Profile:
    """Which plugins run, in order, and each scorer's weight (weights need not sum to 1).

    `batch=False` turns the batch methods off (the per-node path only); `dedupe=False` makes
    the batch path score every candidate row even when its scorers allow one row per distinct
    state: for tests and benchmarks that compare the paths.
    """

    filters: tuple[FilterPlugin, ...]
    scorers: tuple[tuple[ScorePlugin, float], ...] = ()
    name: str = "default"
    batch: bool = True
    dedupe: bool = True
    # Orders the nodes that share the top level (`run_scores`); None: the caller's order does.
    tie_break: TieBreakPlugin | None = None

    @cached_property
    def batch_filters(self) -> tuple[BatchFilterPlugin, ...] | None:
        """The filters, when every one has a batch method (and batching is on), else None."""
        got = tuple(p for p in self.filters if isinstance(p, BatchFilterPlugin))
        return got if self.batch and len(got) == len(self.filters) else None

    @cached_property
    def filters_by_state(self) -> tuple[bool, ...]:
        """Per filter, whether its batch method may judge one row per distinct row state: it
        declares `state_only` (as a scorer does, see `ScorePlugin`: its verdict for a row
        depends on the row's index columns alone) and deduplication is on."""
        return tuple(self.dedupe and getattr(p, "state_only", False) is True for p in self.filters)

    @cached_property
    def scorer_takes_cycle(self) -> tuple[bool, ...]:
        """Per scorer, whether its `score` accepts the `CycleState` (a scorer written before
        the parameter existed, `score(state, pod, node)`, is still called that way)."""
        return tuple(len(inspect.signature(p.score).parameters) >= 4 for p, _ in self.scorers)

    @cached_property
    def batch_scorers(self) -> tuple[tuple[BatchScorePlugin, float], ...] | None:
        """The scorers with a positive weight, when every one has a batch method, else None."""
        live = [(p, w) for p, w in self.scorers if w > 0]
        got = tuple((p, w) for p, w in live if isinstance(p, BatchScorePlugin))
        return got if self.batch and len(got) == len(live) else None

    @cached_property
    def total_weight(self) -> float:
        """The sum of the positive score weights, in profile order (the scale of the mean)."""
        return sum(w for _, w in self.scorers if w > 0)

    @cached_property
    def batch_weights(self) -> Floats:
        """The weights of `batch_scorers` as a column (one row per scorer), or an empty one."""
        got = self.batch_scorers or ()
        return np.array([w for _, w in got], np.float64).reshape(-1, 1)

    @cached_property
    def scores_by_state(self) -> bool:
        """Whether the batch path may score one row per distinct row state: every live batch
        scorer declares `state_only` (see `ScorePlugin`), and deduplication is on."""
        got = self.batch_scorers
        return (
            self.dedupe
            and got is not None
            and all(getattr(p, "state_only", False) is True for p, _ in got)
        )
