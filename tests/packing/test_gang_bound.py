"""The gang objective's lower bound: never above the brute-force optimum, met on easy cases."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packing.gang import plan_gang
from packing.gang.bound import lower_bound
from packing.gang.cost import CostModel
from packing.gang.state import FleetState
from packing.gang.types import GangMember, NodeSlot
from tests.packing.gang_builders import brute_force, node, plain_gpu
from tests.packing.test_gang import instances


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=instances(), objective=st.sampled_from(["fragmentation", "fewest_nodes"]))
def test_bound_never_exceeds_the_optimum(case: tuple[list[GangMember], list[NodeSlot]],
                                         objective: str) -> None:
    members, nodes = case
    cost = CostModel(members, objective)  # type: ignore[arg-type]
    best = brute_force(members, nodes, cost)
    if best is not None:
        assert lower_bound(FleetState(nodes, cost), members) <= best


def test_whole_gpus_on_free_gpus_are_proven_without_search() -> None:
    # a whole GPU goes 1000 -> 0 free: share cost 0 -> 0, so every unit costs 0 = the bound
    nodes = [node("a", plain_gpu(0), plain_gpu(1))]
    members = [GangMember("ns/a", whole=1), GangMember("ns/b", whole=1)]
    plan = plan_gang(members, nodes)
    assert plan.status == "optimal" and plan.objective == 0
    assert "lower bound" in plan.reason


def test_fewest_nodes_bound_counts_gpu_units_per_node() -> None:
    # 3 whole GPUs wanted, nodes hold 2 and 1 free GPUs: no single node can, so >= 2 nodes
    nodes = [node("a", plain_gpu(0), plain_gpu(1)), node("b", plain_gpu(0))]
    members = [GangMember(f"ns/m{i}", whole=1) for i in range(3)]
    cost = CostModel(members, "fewest_nodes")
    assert lower_bound(FleetState(nodes, cost), members) == 2 * cost.big
