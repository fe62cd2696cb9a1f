"""The fragmentation log's per-record amount equals the amount computed from scratch.

One-sentence property: after any sequence of binds and failed pods (records with nothing
placed since, one bind since, or several binds since), each value `FragmentationLog` records is
bit for bit the sum over nodes of `FragTable.node_frag` of the cluster at that moment.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from packing.fgd import FragTable, TargetWorkload, TaskShape
from simulator.fgd_fill import curve
from simulator.fgd_fill.curve import FragmentationLog

from .builders import cluster, node, pod

_TABLE = FragTable(
    TargetWorkload(
        (TaskShape(2000, 500, 1), TaskShape(8000, 1000, 2), TaskShape(1000, 0, 0)),
        (0.5, 0.3, 0.2),
    ),
    ("T4", "V100"),
)


def _from_scratch(c) -> float:  # type: ignore[no-untyped-def]
    return float(np.add.reduce(_TABLE.node_frag(c.gpu_left, c.cpu_left, c.model_idx)))


# Fleets of 1-5 nodes (GPUs, model); steps of (first node, binds, records) between records.
FLEETS = st.lists(
    st.tuples(st.integers(1, 4), st.sampled_from(["T4", "V100"])), min_size=1, max_size=5
)
STEPS = st.lists(
    st.tuples(st.integers(0, 4), st.sampled_from([0, 1, 2]), st.integers(0, 3)), max_size=30
)


def _bind_some(c, k: int, where: int, binds: int) -> None:  # type: ignore[no-untyped-def]
    """`binds` quarter-GPU pods from node `where` on (0: a failed pod; 2: two binds before
    the next record), each where it fits."""
    for b in range(binds):
        i = (where + b) % c.size
        free = [g for g in range(int(c.gpu_count[i])) if c.gpu_left[i, g] >= 250]
        if free and c.cpu_left[i] >= 1000:
            c.place(pod(f"p{k}-{b}", num_gpu=1, milli=250, cpu=1000, mem=1), i, (free[0],))


@settings(max_examples=120, deadline=None)
@given(
    FLEETS,
    STEPS,
)
def test_log_equals_the_amount_from_scratch(nodes, steps) -> None:  # type: ignore[no-untyped-def]
    c = cluster(*(node(f"n{i}", gpus=g, cpu=16_000, model=m) for i, (g, m) in enumerate(nodes)))
    log = FragmentationLog(c, _TABLE)
    log.record(0)
    assert log.frag[-1] == _from_scratch(c)
    for k, (where, binds, records) in enumerate(steps):
        _bind_some(c, k, where, binds)
        for _ in range(max(records, 1)):  # a record with nothing placed since, too
            log.record(k)
            assert log.frag[-1] == _from_scratch(c)
    assert len(log.frag) == len(log.arrived)


@settings(max_examples=120, deadline=None)
@given(
    FLEETS,
    STEPS,
    st.sampled_from([1, 2, 5, 1 << 16]),
)
def test_amounts_read_at_the_end_equal_the_amounts_from_scratch(  # type: ignore[no-untyped-def]
    nodes, steps, pending
) -> None:
    """The amounts are valued when read (`frag`), all records at once or, past
    `MAX_PENDING_STATES` noted states, part way: each still equals the amount from scratch at
    the moment of its record."""
    c = cluster(*(node(f"n{i}", gpus=g, cpu=16_000, model=m) for i, (g, m) in enumerate(nodes)))
    log = FragmentationLog(c, _TABLE)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(curve, "MAX_PENDING_STATES", pending)
        log.record(0)
        want = [_from_scratch(c)]
        for k, (where, binds, records) in enumerate(steps):
            _bind_some(c, k, where, binds)
            for _ in range(max(records, 1)):
                log.record(k)
                want.append(_from_scratch(c))
        assert log.frag == want
    assert log.frag == want  # read twice: nothing valued again or lost
