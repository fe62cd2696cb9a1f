"""The batch filter's common answer ("every candidate passes", given without building verdict
arrays) is given only when the per-node path agrees.

One-sentence property: for any fleet of repeated node templates, some copies with an unhealthy
GPU (an index `slow` row, judged per node) and any pod, `run_filters` over every node (all
names known, so the common answer is possible) gives the per-node path's verdicts, with the
deduplication by row state on and off. Whether a candidate is `slow` is read from one
representative per row state (`slow` is a state column): the mutation checks below read no
representative, or only the first, and fail.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.policy.fleet_memo import RowNames
from scheduler.policy.framework import run_filters
from scheduler.policy.model import (
    Allocation,
    ClusterState,
    Gpu,
    GpuGrant,
    GpuHealth,
    GpuRequest,
    Node,
    Placement,
)
from scheduler.policy.registry import default_profile
from scheduler.policy.status import Code
from tests.builders import H100, H100_MIB, pod

ON = default_profile()
OFF = replace(ON, dedupe=False)
PER_NODE = replace(ON, batch=False)
T4 = "T4"
MIB_OF = {H100: H100_MIB, T4: 15360}
# A hot GPU without telemetry's `over_temperature` flag stays in the capacity view: the batch
# GpuFit counts it, the per-node health filter does not (its row must go per node).
SICK = (None, GpuHealth(ecc_uncorrectable=1), GpuHealth(temperature_c=95.0))


@st.composite
def fleets(draw):  # type: ignore[no-untyped-def]
    """2-4 copies of 1-3 templates (model, GPUs, which GPU is sick if any), some copies then
    holding a share or a whole GPU."""
    nodes: dict[str, Node] = {}
    for t in range(draw(st.integers(1, 3))):
        model = draw(st.sampled_from([H100, T4]))
        n = draw(st.integers(1, 3))
        sick_at, health = draw(st.integers(0, n - 1)), draw(st.sampled_from(SICK))
        gpus = tuple(Gpu(i, f"G{i}", model, MIB_OF[model], False, (),
                         health if i == sick_at and health is not None else GpuHealth())
                     for i in range(n))  # fmt: skip
        for c in range(draw(st.integers(2, 4))):
            nodes[f"t{t}c{c}"] = Node(f"t{t}c{c}", gpus=gpus, cpu_milli=32_000)
    allocs = {}
    for k in range(draw(st.integers(0, 3))):
        name = draw(st.sampled_from(sorted(nodes)))
        grant = draw(st.sampled_from([GpuGrant(0, milli=500), GpuGrant(0)]))
        allocs[f"u{k}"] = Allocation(f"d/u{k}", f"u{k}", Placement(name, (grant,)), cpu_milli=0)
    return ClusterState(nodes, allocs)


requests = st.sampled_from([GpuRequest("whole", 1), GpuRequest("whole", 2),
                            GpuRequest("milli", milli=500), None])  # fmt: skip


def _codes(state: ClusterState, p, profile) -> dict[str, Code]:  # type: ignore[no-untyped-def]
    out = run_filters(state, p, sorted(state.nodes), profile)
    got = dict.fromkeys(out.passed, Code.SUCCESS)
    got.update(dict.fromkeys(out.failed, Code.UNSCHEDULABLE))
    got.update(dict.fromkeys(out.unresolvable, Code.UNSCHEDULABLE_AND_UNRESOLVABLE))
    return got


@settings(max_examples=300, deadline=None)
@given(fleets(), requests)
def test_batch_verdicts_equal_per_node_with_slow_rows(state, req) -> None:
    p = pod(gpu=req)
    want = _codes(state, p, PER_NODE)
    assert _codes(state, p, ON) == want
    assert _codes(state, p, OFF) == want


def test_a_hot_copy_fails_while_its_twins_pass() -> None:
    """By hand: three copies of one node and a fourth whose GPU 0 runs hot (no telemetry
    flag, so the capacity view still offers it); a whole-GPU pod passes the three and fails
    the hot one per node (its placement would take GPU 0), though the batch GpuFit passes it."""
    cool = tuple(Gpu(i, f"G{i}", T4, 15360, False, ()) for i in range(2))
    hot = (Gpu(0, "G0", T4, 15360, False, (), GpuHealth(temperature_c=95.0)), cool[1])
    nodes = {n: Node(n, gpus=cool, cpu_milli=32_000) for n in ("a", "b", "c")}
    nodes["d"] = Node("d", gpus=hot, cpu_milli=32_000)
    out = run_filters(ClusterState(nodes), pod(gpu=GpuRequest("whole", 1)), sorted(nodes), ON)
    assert out.passed == ["a", "b", "c"] and set(out.failed) == {"d"}


def test_the_common_answer_is_a_plain_copy_of_the_names() -> None:
    """Candidates that carry their rows (`RowNames`, a list subclass) all passing: `passed` is
    a plain list, equal to them and not them (the caller's list is never aliased)."""
    nodes = {n: Node(n, gpus=(Gpu(0, "G0", T4, 15360, False, ()),), cpu_milli=32_000)
             for n in ("a", "b", "c")}  # fmt: skip
    state = ClusterState(nodes)
    idx = state.fleet()
    names = RowNames(["c", "a", "b"], idx.rows_of(["c", "a", "b"])[0], idx.row)
    out = run_filters(state, pod(gpu=GpuRequest("whole", 1)), names, ON)
    assert type(out.passed) is list and out.passed == ["c", "a", "b"] and out.passed is not names
