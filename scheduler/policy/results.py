"""What a filter or prioritize call answers, in shapes that cost nothing extra to build from
either path (per node or batch) and that every edge reads as is.

`FilterResult` is the one filter answer from the policy core through the extender to the HTTP
edge: names that passed (input order), and one-line reasons by name for those that failed "for
now" (`failed`: kube-scheduler's FailedNodes) or for good (`unresolvable`). It also reads as a
mapping from node name to `Status`. `NodeScores` is the prioritize answer: one integer per
candidate in input order, also readable as a mapping.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from scheduler.policy.records import Placement
from scheduler.policy.status import SUCCESS, Code, Status


@dataclass(eq=False)  # compared as a mapping of statuses
class FilterResult(Mapping[str, Status]):
    passed: list[str]
    failed: dict[str, str] = field(default_factory=dict)
    unresolvable: dict[str, str] = field(default_factory=dict)
    error: str = ""  # the whole request failed (bad pod): every node fails with this
    gang_outcome: str | None = None  # "planned", "steered", "failed" or None (for metrics)
    reserved: Placement | None = None  # the hold made when exactly one node passed
    # choose_in_filter: nodes that passed every filter but were not the one chosen, by name,
    # with the reason naming the chosen node. Read as UNSCHEDULABLE like `failed`, counted by
    # the metrics, but not sent in FailedNodes while a node passes (scheduler.api.app).
    chosen_away: dict[str, str] = field(default_factory=dict)
    # The exact `Status` of nodes judged one by one (per-node reasons, ERROR codes).
    statuses: dict[str, Status] = field(default_factory=dict, repr=False, compare=False)
    names: Sequence[str] = field(default=(), repr=False, compare=False)  # input order
    _passed: frozenset[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __getitem__(self, name: str) -> Status:
        got = self.statuses.get(name)
        if got is not None:
            return got
        if name in self.failed:
            return Status(Code.UNSCHEDULABLE, (self.failed[name],))
        if name in self.chosen_away:
            return Status(Code.UNSCHEDULABLE, (self.chosen_away[name],))
        if name in self.unresolvable:
            return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (self.unresolvable[name],))
        if self._passed is None:
            self._passed = frozenset(self.passed)
        if name in self._passed:
            return SUCCESS
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        if self.names:
            return iter(dict.fromkeys(self.names))
        return iter(dict.fromkeys([*self.passed, *self.failed, *self.chosen_away,
                                   *self.unresolvable]))  # fmt: skip

    def __len__(self) -> int:
        return sum(1 for _ in self)

    @classmethod
    def of(cls, statuses: dict[str, Status], names: Sequence[str] = ()) -> FilterResult:
        """From one `Status` per node (the per-node path)."""
        failed: dict[str, str] = {}
        unresolvable: dict[str, str] = {}
        passed: list[str] = []
        for n, s in statuses.items():
            if s.ok:
                passed.append(n)
            elif s.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
                unresolvable[n] = s.message
            else:
                failed[n] = s.message
        return cls(passed, failed, unresolvable, statuses=statuses, names=names)


class NodeScores(Mapping[str, int]):
    """Integer 0..10 per candidate; `ints[i]` belongs to `names[i]` (unknown nodes: 0).
    Compared as a mapping: `{"a": 7} == scores`.

    `levels` is the same weighted mean on kube-scheduler's own node-score scale, 0..100
    (`MaxNodeScore`): what an in-process score plugin would return. The extender's HTTP reply
    can only carry 0..10 (`MaxExtenderPriority`); the fill experiment ranks by `levels`.

    The batch path hands over arrays (`int_array`, `level_array`); the lists are made from
    them on first read (the fill ranks by `level_array` and reads neither list: two
    `tolist` of every candidate per pod saved). Assigning `level_array` drops a list made
    from the array it replaces.
    """

    def __init__(
        self,
        names: Sequence[str],
        ints: list[int] | None = None,
        levels: list[int] | None = None,
        level_array: npt.NDArray[np.int64] | None = None,
        *,
        int_array: npt.NDArray[np.int64] | None = None,
    ) -> None:
        if ints is None and int_array is None:
            raise ValueError("NodeScores needs ints or int_array")
        self.names = names
        self._ints, self._int_array = ints, int_array
        self._levels, self._level_array = levels, level_array
        self._by_name: dict[str, int] | None = None

    @property
    def ints(self) -> list[int]:
        got = self._ints
        if got is None:
            assert self._int_array is not None  # one of the two is given (`__init__`)
            got = self._ints = self._int_array.tolist()
        return got

    @property
    def levels(self) -> list[int] | None:
        got = self._levels
        if got is None and self._level_array is not None:
            got = self._levels = self._level_array.tolist()
        return got

    @property
    def level_array(self) -> npt.NDArray[np.int64] | None:
        """`levels` as an array, when the batch path made one (in-process rankers skip the
        list)."""
        return self._level_array

    @level_array.setter
    def level_array(self, value: npt.NDArray[np.int64]) -> None:
        self._level_array, self._levels = value, None

    def __repr__(self) -> str:
        return f"NodeScores(names={self.names!r}, ints={self.ints!r}, levels={self.levels!r})"

    def pairs(self) -> list[tuple[str, int]]:
        return list(zip(self.names, self.ints, strict=True))

    def _map(self) -> dict[str, int]:
        if self._by_name is None:
            self._by_name = dict(zip(self.names, self.ints, strict=True))
        return self._by_name

    def __getitem__(self, name: str) -> int:
        return self._map()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._map())

    def __len__(self) -> int:
        return len(self._map())
