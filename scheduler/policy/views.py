"""Read-only mapping views over an immutable snapshot's allocations (nothing is copied)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Generic, TypeVar

V = TypeVar("V")


class Without(Mapping[str, V], Generic[V]):
    """`base` minus `drop`, without copying (snapshots are immutable, so this stays valid)."""

    def __init__(self, base: Mapping[str, V], drop: frozenset[str]) -> None:
        self._base, self._drop = base, drop

    def __getitem__(self, key: str) -> V:
        if key in self._drop:
            raise KeyError(key)
        return self._base[key]

    def __iter__(self) -> Iterator[str]:
        return (k for k in self._base if k not in self._drop)

    def __len__(self) -> int:
        return len(self._base) - len(self._drop)


class With(Mapping[str, V], Generic[V]):
    """`base` plus `extra` (keys of `extra` win), without copying `base`."""

    def __init__(self, base: Mapping[str, V], extra: dict[str, V]) -> None:
        self._base, self._extra = base, extra

    def __getitem__(self, key: str) -> V:
        got = self._extra.get(key)
        return got if got is not None else self._base[key]

    def __iter__(self) -> Iterator[str]:
        yield from self._extra
        yield from (k for k in self._base if k not in self._extra)

    def __len__(self) -> int:
        return len(self._base) + sum(1 for k in self._extra if k not in self._base)
