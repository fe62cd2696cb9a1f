"""A row's state key read through flat byte views of the key columns (`FleetIndex._key_views`)
is the key the state ids are defined by: the row's one-row slice of every `STATE_FIELDS`
column, joined (and its MIG counts).

One-sentence property: after any refreshes in place and in an index derived by `updated()`,
every row's state id is the interned id of that slice-made key. The mutation checks (views
kept for another index's arrays; a row's width of one element) fail it.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.policy import fleet_index
from scheduler.policy.fleet_index import FleetIndex
from scheduler.policy.model import ClusterState
from tests.scheduler.policy.test_batch import _dropped, clusters

flags = st.lists(st.booleans(), min_size=6, max_size=6)


def _slice_key(idx: FleetIndex, r: int) -> bytes:
    """The defining key of row `r`, column by column (what `_state_keys` did before views)."""
    key = b"".join([getattr(idx, f)[r : r + 1].tobytes() for f in fleet_index.STATE_FIELDS])
    counts = idx._count_tables()
    mig = [sorted((p, int(a[r])) for p, a in t.items() if a[r]) for t in counts]
    return key + repr(mig).encode() if any(mig) else key


def _ids_match_keys(idx: FleetIndex) -> None:
    ids = idx.state_ids()
    table = idx._states.ids
    for r in range(len(idx.alive)):
        assert table[_slice_key(idx, r)] == ids[r], f"row {r}"


@settings(max_examples=100, deadline=None)
@given(clusters(), flags, flags)
def test_state_ids_are_the_slice_keys_ids(a, keep1, keep2) -> None:
    idx = a.fleet()
    _ids_match_keys(idx)
    state = a
    for keep in (keep1, keep2):
        nxt, touched = _dropped(state, keep)
        derived = ClusterState(nxt.nodes, nxt.allocations, _seed=state.seed_for(touched)).fleet()
        _ids_match_keys(derived)  # its own arrays: views made for it
        live = ClusterState(nxt.nodes, nxt.allocations, _fleet={"fleet": idx})
        idx.refresh(live.capacity(n) for n in touched)  # rows written in place
        _ids_match_keys(idx)
        state = live


def test_columns_not_c_contiguous_take_the_slices() -> None:
    """A column that is a strided view (no flat byte view of it) gives the same ids through
    the per-column slices."""
    from tests.scheduler.policy.test_state_dedupe import _t4

    state = ClusterState({n: _t4(n) for n in ("a", "b", "c")})
    idx = state.fleet()
    wide = np.zeros((len(idx.alive), 2 * idx.slots), idx.used.dtype)
    wide[:, ::2] = idx.used
    idx.used = wide[:, ::2]  # the same values, not C-contiguous
    assert idx._key_views(idx._states) is None
    _ids_match_keys(idx)
