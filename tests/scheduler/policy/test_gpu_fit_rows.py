"""GpuFit's batch verdicts equal its per-node ones, code by code, on fleets where rows fail.

The batch method answers all-pass without forming codes when every row fits, and finds the
unresolvable rows only when some row does not fit; both shortcuts must leave every row's code
(pass, unschedulable, unresolvable) as the per-node `filter` gives it.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.policy.interfaces import CycleState
from scheduler.policy.model import (
    Allocation,
    ClusterState,
    Gpu,
    GpuGrant,
    GpuRequest,
    Node,
    Placement,
)
from scheduler.policy.plugins.gpu_fit import GpuFit
from scheduler.policy.status import Code
from tests.builders import pod

_gpu = st.tuples(st.sampled_from([0, 250, 600, 1000]), st.sampled_from([16384, 32768]))


def _state(nodes: list[list[tuple[int, int]]]) -> ClusterState:
    """Nodes of (free milli, memory MiB) GPUs; a GPU less than idle holds a share (or all)."""
    built, allocs = {}, {}
    for k, gpus in enumerate(nodes):
        n = f"n{k}"
        built[n] = Node(n, gpus=tuple(Gpu(i, f"{n}-{i}", "T4", m) for i, (_, m) in enumerate(gpus)))
        for i, (free, _) in enumerate(gpus):
            if free < 1000:
                grant = GpuGrant(i) if free == 0 else GpuGrant(i, milli=1000 - free)
                allocs[f"{n}{i}"] = Allocation(f"d/{n}{i}", f"{n}{i}", Placement(n, (grant,)))
    return ClusterState(built, allocs)


@settings(max_examples=300, deadline=None)
@given(
    nodes=st.lists(st.lists(_gpu, min_size=0, max_size=4), min_size=1, max_size=6),
    request=st.sampled_from(
        [
            GpuRequest("whole", 1),
            GpuRequest("whole", 3),
            GpuRequest("whole", 5),
            GpuRequest("milli", 1, milli=250, memory_mib=1000),
            GpuRequest("milli", 1, milli=500, memory_mib=20000),
            GpuRequest("milli", 1, milli=250, memory_mib=32768),
            GpuRequest("milli", 1, milli=900, memory_mib=40000),
        ]
    ),
)
def test_batch_codes_equal_the_per_node_filter(nodes, request) -> None:
    """Property: per row, the batch code (None: every row passes) is the per-node status's
    code: pass, unschedulable (no room now) or unresolvable (never: too few usable GPUs, too
    little memory on every GPU)."""
    state = _state(nodes)
    names = sorted(state.nodes)
    p = pod(gpu=request, cpu_milli=1000)
    got = GpuFit().filter_rows(CycleState(state, p, names))
    assert got is not None
    want = [GpuFit().filter(state, p, state.nodes[n]).code for n in names]
    codes = [Code.SUCCESS] * len(names) if got.code is None else [Code(c) for c in got.code]
    assert codes == want
    assert got.exact is None
