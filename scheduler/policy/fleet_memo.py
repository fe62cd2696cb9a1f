"""The fleet index's records below the index itself: a derived per-row array and its
validity (`_RowMemo`, `FleetIndex.per_row`), row states interned to ids (`_StateTable`,
`FleetIndex.state_ids`) and grouping by them (`distinct`), and candidate names that carry
their rows (`RowNames`, `FleetIndex.rows_of`)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from packing.jit import kernel

# Distinct row states a lineage interns before its table starts over: 2 per row + 4,096 (a key
# is ~0.4 KB at 8 GPU columns, so ~6 MB at 5,000 nodes at most, whatever the churn).
STATES_PER_ROW, MIN_STATES = 2, 4096
_U16_MAX = (1 << 16) - 1  # `distinct` sorts ids up to this as uint16


@dataclass
class _RowMemo:
    """One derived per-row array (`FleetIndex.per_row`): `valid` rows are current as of
    position `since` of the index's change log (rows logged after it are redone on use)."""

    values: npt.NDArray[Any]
    valid: npt.NDArray[np.bool_]
    since: int
    shared: bool = False  # handed to a derived index (`updated()`): never changed in place
    pending: bool = False  # some rows are marked stale in `valid` (else every row is valid)


class _StateTable:
    """Row states interned to ids, shared down an index lineage (`FleetIndex.state_ids`):
    equal ids <=> byte-identical keys. Only ever added to; `next` on the counter is atomic, so
    concurrent readers never give two keys one id."""

    _serials = itertools.count()

    def __init__(self) -> None:
        self.ids: dict[bytes, int] = {}
        self._next = itertools.count()
        self.serial = next(_StateTable._serials)
        # The key columns as flat byte views (`FleetIndex._state_keys`): (the field names,
        # their getter, the arrays viewed, per array its view and a row's width in bytes).
        # Replaced whole, never mutated: a reader holding the old tuple is never torn.
        self.views: tuple[tuple[str, ...], Any, tuple[Any, ...], list[tuple[memoryview, int]]]
        self.views = ((), None, (), [])

    def __eq__(self, other: object) -> bool:  # interchangeable: the same keys, the same ids
        return isinstance(other, _StateTable) and self.ids == other.ids

    __hash__ = None  # type: ignore[assignment]  # mutable

    def intern(self, key: bytes) -> int:
        got = self.ids.get(key)
        return got if got is not None else self.ids.setdefault(key, next(self._next))


class RowNames(list[str]):
    """Candidate names that carry their fleet-index rows, for a caller that keeps them (the
    fill simulator: its nodes are the index's rows): `FleetIndex.rows_of` hands `rows` back
    instead of looking each name up, when `row_map` is the index's own `row` (an index's row
    map is never changed once built: `updated()` shares it or makes a new one)."""

    __slots__ = ("row_map", "rows")

    def __init__(
        self, names: Iterable[str], rows: npt.NDArray[np.intp], row_map: dict[str, int]
    ) -> None:
        super().__init__(names)
        if len(self) != len(rows):
            raise ValueError(f"{len(self)} names but {len(rows)} rows")
        self.rows, self.row_map = rows, row_map


def distinct(
    ids: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]] | None:
    """(the first position of each distinct value of `ids`, in order of value; each
    position's rank among those), or None when no value repeats (or fewer than two): what
    `np.unique(ids, return_index=True, return_inverse=True)` gives, in fewer steps (the
    framework groups candidates by `state_ids` per pod, the look-ahead its tied nodes)."""
    if len(ids) < 2:
        return None
    # Ids in [0, 2**16) (interned row states: ~2 per row + 4,096) sorted as uint16: numpy's
    # stable sort of 16-bit integers is a radix sort, O(n) instead of a merge sort; a stable
    # order of the same values is one permutation, so the same answer.
    if np.maximum.reduce(ids.view(np.uint64)) <= _U16_MAX:  # (a negative id views as > 2**63)
        ids = ids.astype(np.uint16)
    order = ids.argsort(kind="stable")
    ranked = ids.take(order)
    head = np.empty(len(ids), bool)
    head[0] = True
    np.not_equal(ranked[1:], ranked[:-1], out=head[1:])
    first = order[head]
    if len(first) == len(ids):
        return None
    inverse = np.empty(len(ids), np.intp)
    rank = head.astype(np.intp).cumsum()  # (a bool cumsum with dtype= casts per element)
    rank -= 1
    inverse[order] = rank
    return first, inverse


def group_ids(
    ids: npt.NDArray[np.int64], rows: npt.NDArray[np.intp] | None = None
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]] | None:
    """(one position of each distinct value of `ids`, in order of position; each position's
    index among those), or None when no value repeats (or fewer than two): `distinct`'s
    grouping with another representative per value and another order of the groups, for a
    caller to whom any row of a group will do (the framework scores one row per row state).
    `rows`: group `ids[rows]` instead (the framework's candidates' state ids, taken in the
    kernel rather than by a separate `take`). Ids outside [0, 2**16) (never interned row
    states) go to `distinct`."""
    n = len(ids) if rows is None else len(rows)
    if n < 2:
        return None
    first, inverse, status = _group_kernel(ids, _positions(n) if rows is None else rows)
    if status == _NO_REPEAT:
        return None
    if status == _OUT_OF_RANGE:
        return distinct(ids if rows is None else ids.take(rows))
    return first, inverse


_REPEATS, _NO_REPEAT, _OUT_OF_RANGE = 0, 1, 2  # `_group_kernel`'s verdicts


def _positions(n: int) -> npt.NDArray[np.intp]:
    return np.arange(n, dtype=np.intp)


def _group_sample() -> tuple[npt.NDArray[np.int64], npt.NDArray[np.intp]]:
    return np.array([3, 1, 3], np.int64), np.arange(3, dtype=np.intp)


@kernel(_group_sample)
def _group_kernel(
    values: npt.NDArray[np.int64], rows: npt.NDArray[np.intp]
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], int]:
    """`group_ids` of `values[rows]`: (first, inverse, a verdict). No sort: each value's slot
    in a scratch table over [0, max id] keeps the last position holding it (every position of
    the value reads the same slot, so exactly one of them is its own representative), then
    the groups' indexes. The values are gathered through `rows` once, into a contiguous
    array the later passes read (each pass gathering them again cost about twice the time)."""
    n = len(rows)
    top = 0
    own = np.empty(n, np.intp)  # each position's value, gathered from `values` once
    for p in range(n):
        v = values[rows[p]]
        if v < 0 or v > _U16_MAX:
            return np.empty(0, np.intp), np.empty(0, np.intp), _OUT_OF_RANGE
        own[p] = v
        top = max(top, v)
    slot = np.empty(top + 1, np.intp)
    for p in range(n):
        slot[own[p]] = p
    first = np.empty(n, np.intp)
    m = 0
    for p in range(n):
        if slot[own[p]] == p:
            first[m] = p
            m += 1
    if m == n:
        return first, first, _NO_REPEAT
    for j in range(m):  # distinct values: one write each
        slot[own[first[j]]] = j
    inverse = np.empty(n, np.intp)
    for p in range(n):
        inverse[p] = slot[own[p]]
    return first[:m], inverse, _REPEATS
