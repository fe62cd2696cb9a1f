"""The gang objective's lower bound: never above the brute-force optimum, met on easy cases."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packing.gang import plan_gang
from packing.gang.bound import lower_bound, whole_gpu_shortfall
from packing.gang.cost import CostModel
from packing.gang.state import FleetState
from packing.gang.types import GangMember, NodeSlot
from tests.packing.gang_builders import brute_force, mig_gpu, node, plain_gpu
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


@st.composite
def whole_gangs(draw: st.DrawFn) -> tuple[list[GangMember], list[NodeSlot]]:
    """Up to 3 nodes of up to 4 GPUs (free, shared or MIG) and up to 3 whole-GPU members,
    sometimes with a milli member beside them (which the count ignores)."""
    gpu = st.one_of(st.sampled_from([0, 500, 1000, 1000]).map(lambda f: ("plain", f)),
                    st.just(("mig", 0)))
    nodes = []
    for i in range(draw(st.integers(1, 3))):
        kinds = draw(st.lists(gpu, min_size=1, max_size=4))
        gpus = [plain_gpu(j, f) if k == "plain" else mig_gpu(j) for j, (k, f) in enumerate(kinds)]
        nodes.append(node(f"n{i}", *gpus, cpu=draw(st.sampled_from([1000, 64_000]))))
    members = [GangMember(f"ns/m{k}", whole=draw(st.integers(1, 3)),
                          cpu_milli=draw(st.sampled_from([0, 1000])))
               for k in range(draw(st.integers(1, 3)))]
    if draw(st.booleans()):
        members.append(GangMember("ns/share", milli=500))
    return members, nodes


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=whole_gangs())
def test_whole_gpu_shortfall_only_rejects_gangs_no_plan_fits(
        case: tuple[list[GangMember], list[NodeSlot]]) -> None:
    """Property: when the free-whole-GPU count rules a gang out, exhaustive search finds no
    plan either (the shortcut never turns a feasible gang away)."""
    members, nodes = case
    cost = CostModel(members, "fragmentation")
    if whole_gpu_shortfall(FleetState(nodes, cost), members):
        assert brute_force(members, nodes, cost) is None
        assert plan_gang(members, nodes).status == "infeasible"


def test_whole_gpu_shortfall_counts_per_node() -> None:
    # 2 members of 2 GPUs; nodes with 3 and 1 free whole GPUs (4 in all, enough in total),
    # but 3 // 2 + 1 // 2 = 1 member fits: infeasible without a search.
    nodes = [node("a", *(plain_gpu(i) for i in range(3))), node("b", plain_gpu(0))]
    members = [GangMember("ns/a", whole=2), GangMember("ns/b", whole=2)]
    why = whole_gpu_shortfall(FleetState(nodes, CostModel(members, "fragmentation")), members)
    assert why == "2 members (ns/a, ...) need 2 whole GPUs each; the nodes have room for 1"
    plan = plan_gang(members, nodes)
    assert plan.status == "infeasible" and plan.reason == why
    # A shared GPU (500 free) is not a free whole GPU: 3 wanted on one node, 2 free there.
    nodes = [node("a", plain_gpu(0), plain_gpu(1, 500), plain_gpu(2))]
    members = [GangMember("ns/a", whole=3)]
    assert whole_gpu_shortfall(FleetState(nodes, CostModel(members, "fragmentation")),
                               members) == "no node has 3 free whole GPUs for gang member ns/a"
    # Members of 1 and 2 GPUs: each class fits alone (2 // 1 = 2 >= 1; 2 // 2 = 1 >= 1), but
    # together they need 3 free whole GPUs and there are 2.
    members = [GangMember("ns/a", whole=1), GangMember("ns/b", whole=2)]
    assert whole_gpu_shortfall(FleetState(nodes, CostModel(members, "fragmentation")),
                               members) == "the gang needs 3 free whole GPUs; 2 are free"
    # Enough room: the count says nothing.
    members = [GangMember("ns/a", whole=2)]
    assert whole_gpu_shortfall(FleetState(nodes, CostModel(members, "fragmentation")),
                               members) == ""
