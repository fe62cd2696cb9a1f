"""`mig_frag_table`'s memo of the default-mix table answers per GPU model object: a model
under the same key but with other profiles (a test catalogue, a custom entry) gets its own
table, the one the default mix's weights give it."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from packing.catalogue import get_model
from packing.fragmentation import _table, mig_frag_table, normalise_mix


def test_each_model_object_gets_its_own_table() -> None:
    h100 = get_model("H100-80GB")
    fewer = replace(h100, profiles=tuple(p for p in h100.profiles if p.name != "1g.10gb"))
    assert not np.array_equal(_table(h100, normalise_mix(h100, None)),
                              _table(fewer, normalise_mix(fewer, None)))  # fmt: skip
    for model in (h100, fewer, h100):
        assert np.array_equal(mig_frag_table(model), _table(model, normalise_mix(model, None)))
