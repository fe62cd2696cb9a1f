"""Hypothesis properties of the MIG geometry, on every catalogue model.

- no two instances of any layout we produce overlap (memory-slice intervals are disjoint);
- every instance sits at a valid start for its model's profile, within the GPU;
- `place` accepts exactly the starts `free_starts` offers;
- `fit_multiset` returns a completion exactly when one exists among the valid layouts.
"""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from packing.catalogue import MODELS, GpuModel
from packing.errors import InvalidPlacementError
from packing.mig import MigInstance, fit_multiset, free_starts, place, valid_layouts

models = st.sampled_from(sorted(MODELS)).map(lambda k: MODELS[k])


def _assert_valid(m: GpuModel, layout: tuple[MigInstance, ...]) -> None:
    seen = 0
    for inst in layout:
        p = m.profile(inst.profile)
        assert inst.start in p.placements
        assert inst.start + p.memory_slices <= m.memory_slices
        span = p.span(inst.start)
        assert not seen & span, f"overlap at {inst} in {layout}"
        seen |= span
    counts = Counter(i.profile for i in layout)
    assert all(c <= m.profile(n).max_count for n, c in counts.items())
    assert sum(m.profile(i.profile).media_extension for i in layout) <= 1
    assert sum(m.profile(i.profile).compute_slices for i in layout) <= m.compute_slices


@settings(max_examples=200, deadline=None)
@given(m=models, data=st.data())
def test_random_placements_stay_valid(m: GpuModel, data: st.DataObject) -> None:
    layout: tuple[MigInstance, ...] = ()
    for _ in range(data.draw(st.integers(1, 12))):
        p = data.draw(st.sampled_from(m.profiles))
        start = data.draw(st.integers(-1, m.memory_slices))
        offered = free_starts(m, layout, p.name)
        try:
            layout = place(m, layout, p.name, start)
            assert start in offered  # place accepted: free_starts offered it
        except InvalidPlacementError:
            assert start not in offered  # place refused: free_starts did not offer it
        _assert_valid(m, layout)


@settings(max_examples=150, deadline=None)
@given(m=models, data=st.data())
def test_fit_multiset_exact(m: GpuModel, data: st.DataObject) -> None:
    layouts = valid_layouts(m)
    base = data.draw(st.sampled_from(layouts))
    demand = data.draw(st.dictionaries(st.sampled_from(m.profile_names), st.integers(0, 3),
                                       max_size=3))
    added = fit_multiset(m, base, demand)
    want = Counter({k: v for k, v in demand.items() if v})
    # a completion exists iff some valid layout contains `base` plus exactly that multiset
    exists = any(set(base) <= set(lay)
                 and Counter(i.profile for i in lay) - Counter(i.profile for i in base) == want
                 for lay in layouts)
    assert (added is not None) == exists
    if added is not None:
        assert Counter(i.profile for i in added) == want
        _assert_valid(m, (*base, *added))
