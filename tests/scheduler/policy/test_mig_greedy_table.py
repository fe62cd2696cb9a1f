"""`mig_greedy`'s memo of the default-mix fragmentation table answers per GPU model object:
a model under the same key but with other profiles (a test catalogue, a custom entry) gets
its own table, the one `packing.fragmentation.mig_frag_table` gives."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from packing.catalogue import get_model
from packing.fragmentation import mig_frag_table
from scheduler.policy import mig_greedy


def test_each_model_object_gets_its_own_table() -> None:
    h100 = get_model("H100-80GB")
    fewer = replace(h100, profiles=tuple(p for p in h100.profiles if p.name != "1g.10gb"))
    assert not np.array_equal(mig_frag_table(h100), mig_frag_table(fewer))
    for model in (h100, fewer, h100):
        assert np.array_equal(mig_greedy._frag_table(model), mig_frag_table(model))
