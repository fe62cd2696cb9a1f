"""Gang placement: hand-checked cases, every status path, and properties against brute force."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packing.errors import (
    InvalidCountError,
    InvalidPlacementError,
    PackingError,
    UnknownGpuModelError,
)
from packing.gang import plan_gang
from packing.gang.cost import CostModel
from packing.gang.greedy import greedy
from packing.gang.state import FleetState, evaluate_plan
from packing.gang.types import GangMember, GpuSlot, Grant, MemberPlacement, NodeSlot
from packing.mig import valid_layouts
from tests.packing.gang_builders import brute_force, mig_gpu, node, plain_gpu

M = GangMember


def test_whole_gpu_gang_all_or_nothing() -> None:
    # 3 members x 2 whole GPUs = 6 GPUs; nodes have 4 + 2 free -> fits only using both nodes
    nodes = [node("a", *(plain_gpu(i) for i in range(4))), node("b", plain_gpu(0), plain_gpu(1))]
    members = [M(f"ns/p{i}", whole=2) for i in range(3)]
    plan = plan_gang(members, nodes)
    assert plan.status == "optimal"
    used = sorted((mp.node, g.index) for mp in plan.placements.values() for g in mp.grants)
    assert len(used) == len(set(used)) == 6  # no GPU double-booked
    # a 4th member needs 2 more GPUs: none left -> nothing is placed
    worse = plan_gang([*members, M("ns/p3", whole=2)], nodes)
    assert worse.status == "infeasible" and worse.placements == {}


def test_mig_gang_fills_the_broken_half_first() -> None:
    # GPU a0 has 1g.10gb@3 in use: [0,4) can no longer host a 3g.  Two 1g.10gb members belong
    # inside [0,3) (fragmentation falls), not on the empty GPU b0 (which would break a half).
    nodes = [node("a", mig_gpu(0, ("1g.10gb", 3, True))), node("b", mig_gpu(0))]
    members = [M("ns/a", mig_profile="1g.10gb", mig_count=1),
               M("ns/b", mig_profile="1g.10gb", mig_count=1)]
    plan = plan_gang(members, nodes)
    assert plan.status == "optimal"
    assert {mp.node for mp in plan.placements.values()} == {"a"}
    assert all(g.start is not None and g.start < 3 for mp in plan.placements.values()
               for g in mp.grants)


def test_existing_free_instance_is_used_in_static_mode() -> None:
    # static MIG (dynamic=False): only the existing free 3g.40gb@4 can serve
    nodes = [node("a", mig_gpu(0, ("3g.40gb", 0, True), ("3g.40gb", 4, False), dynamic=False))]
    plan = plan_gang([M("ns/a", mig_profile="3g.40gb", mig_count=1)], nodes)
    (g,) = plan.placements["ns/a"].grants
    assert (g.profile, g.start, g.existing) == ("3g.40gb", 4, True)
    two = plan_gang([M("ns/a", mig_profile="3g.40gb", mig_count=1),
                     M("ns/b", mig_profile="3g.40gb", mig_count=1)], nodes)
    assert two.status == "infeasible"


def test_fewest_nodes_objective_packs_onto_one_node() -> None:
    # shares of 500: fragmentation alone is indifferent between a0+a1 and a0+b0; fewest nodes
    # must put both members on one node
    nodes = [node("a", plain_gpu(0, 500), plain_gpu(1, 500)), node("b", plain_gpu(0, 500))]
    members = [M("ns/a", milli=500), M("ns/b", milli=500)]
    plan = plan_gang(members, nodes, objective="fewest_nodes")
    assert plan.status == "optimal" and {mp.node for mp in plan.placements.values()} == {"a"}


def test_cpu_limits_members_per_node() -> None:
    # node a: 4 GPUs but CPU for one member (3000 of 4000 each) -> second member goes to b
    nodes = [node("a", *(plain_gpu(i) for i in range(4)), cpu=4000),
             node("b", plain_gpu(0), cpu=4000)]
    members = [M("ns/a", whole=1, cpu_milli=3000), M("ns/b", whole=1, cpu_milli=3000)]
    plan = plan_gang(members, nodes, objective="fewest_nodes")
    assert sorted(mp.node for mp in plan.placements.values()) == ["a", "b"]


def test_no_node_can_host_a_member_is_infeasible_with_reason() -> None:
    plan = plan_gang([M("ns/big", whole=3)], [node("a", plain_gpu(0), plain_gpu(1))])
    assert plan.status == "infeasible" and "ns/big" in plan.reason


def test_gpu_model_restriction() -> None:
    a100 = NodeSlot("a100", (GpuSlot(0, "A100-40GB"),), 8000, 1 << 40)
    h100 = node("h100", plain_gpu(0))
    plan = plan_gang([M("ns/a", whole=1, gpu_models=("A100-40GB",))], [h100, a100])
    assert plan.placements["ns/a"].node == "a100"
    with pytest.raises(UnknownGpuModelError):
        M("ns/a", whole=1, gpu_models=("V100",))


@pytest.mark.parametrize(
    ("kwargs", "err"),
    [
        ({"whole": -1}, InvalidCountError),
        ({"whole": 1, "milli": 300}, PackingError),  # two kinds at once
        ({"milli": 1000}, PackingError),  # a whole GPU is not a share
        ({"mig_count": 1}, PackingError),  # no profile
        ({"whole": 1.5}, InvalidCountError),
    ],
)
def test_bad_members(kwargs: dict[str, object], err: type[Exception]) -> None:
    with pytest.raises(err):
        M("ns/x", **kwargs)  # type: ignore[arg-type]


def test_bad_calls() -> None:
    nodes = [node("a", plain_gpu(0))]
    with pytest.raises(PackingError, match="at least one"):
        plan_gang([], nodes)
    with pytest.raises(PackingError, match="unique"):
        plan_gang([M("ns/a", whole=1), M("ns/a", whole=1)], nodes)
    with pytest.raises(PackingError, match="objective"):
        plan_gang([M("ns/a", whole=1)], nodes, objective="cheapest")  # type: ignore[arg-type]
    with pytest.raises(PackingError, match="9g.99gb"):
        plan_gang([M("ns/a", mig_profile="9g.99gb", mig_count=1)], nodes)


def test_tiny_time_limit_still_answers() -> None:
    nodes = [node(f"n{i}", *(mig_gpu(j) for j in range(8))) for i in range(20)]
    members = [M(f"ns/p{i}", mig_profile="2g.20gb", mig_count=1) for i in range(40)]
    plan = plan_gang(members, nodes, time_limit_s=1e-6)
    assert plan.status in {"optimal", "feasible", "greedy"}
    assert plan.objective == evaluate_plan(members, nodes, plan.placements,
                                           CostModel(members, "fragmentation"))


# ---- properties -----------------------------------------------------------------------------

_LAYOUTS = valid_layouts("H100-80GB")


@st.composite
def gpus(draw: st.DrawFn, index: int) -> GpuSlot:
    if draw(st.booleans()):
        lay = _LAYOUTS[draw(st.integers(0, len(_LAYOUTS) - 1))]
        lay = lay[: draw(st.integers(0, 2))]  # a partly used GPU
        return mig_gpu(index, *((i.profile, i.start, draw(st.booleans())) for i in lay))
    return plain_gpu(index, draw(st.sampled_from([300, 500, 700, 1000, 1000])))


@st.composite
def instances(draw: st.DrawFn) -> tuple[list[GangMember], list[NodeSlot]]:
    nodes = [NodeSlot(f"n{i}", tuple(draw(gpus(j)) for j in range(draw(st.integers(1, 2)))),
                      draw(st.sampled_from([1000, 2000, 8000])), 1 << 40)
             for i in range(draw(st.integers(1, 2)))]
    members = []
    for k in range(draw(st.integers(1, 3))):  # 3 members x ~16 options: brute force is cheap
        kind = draw(st.sampled_from(["whole", "milli", "mig"]))
        cpu = draw(st.sampled_from([0, 500, 1000]))
        if kind == "whole":
            members.append(M(f"ns/m{k}", whole=1, cpu_milli=cpu))
        elif kind == "milli":
            members.append(M(f"ns/m{k}", milli=draw(st.sampled_from([200, 500])), cpu_milli=cpu))
        else:
            prof = draw(st.sampled_from(["1g.10gb", "1g.20gb", "2g.20gb", "3g.40gb"]))
            members.append(M(f"ns/m{k}", mig_profile=prof, mig_count=1, cpu_milli=cpu))
    return members, nodes


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=instances(), objective=st.sampled_from(["fragmentation", "fewest_nodes"]))
def test_cpsat_equals_brute_force_and_never_worse_than_greedy(
        case: tuple[list[GangMember], list[NodeSlot]], objective: str) -> None:
    members, nodes = case
    cost = CostModel(members, objective)  # type: ignore[arg-type]
    best = brute_force(members, nodes, cost)
    plan = plan_gang(members, nodes, objective=objective,  # type: ignore[arg-type]
                     time_limit_s=10.0)
    g = greedy(FleetState(nodes, cost), members)
    if best is None:
        assert plan.status == "infeasible" and g is None
        return
    assert plan.status == "optimal"
    assert plan.objective == best == evaluate_plan(members, nodes, plan.placements, cost)
    if g is not None:
        assert plan.objective <= evaluate_plan(members, nodes, g, cost)


# ---- the exact plan check (every plan returned passes through it) ---------------------------

def _mp(node_name: str, *grants: Grant) -> MemberPlacement:
    return MemberPlacement(node_name, grants)


_CHECK_NODES = [node("a", plain_gpu(0), mig_gpu(1, ("3g.40gb", 4, False)), cpu=3000)]


@pytest.mark.parametrize(
    ("members", "plan", "why"),
    [
        # two members on one whole GPU
        ([M("ns/a", whole=1), M("ns/b", whole=1)],
         {"ns/a": _mp("a", Grant(0, whole=True)), "ns/b": _mp("a", Grant(0, whole=True))},
         "not a free whole GPU"),
        # 3g@0 and 4g@0 overlap on GPU 1
        ([M("ns/a", mig_profile="3g.40gb", mig_count=1),
          M("ns/b", mig_profile="4g.40gb", mig_count=1)],
         {"ns/a": _mp("a", Grant(1, profile="3g.40gb", start=0)),
          "ns/b": _mp("a", Grant(1, profile="4g.40gb", start=0))}, "overlaps"),
        # the one free existing 3g@4 handed out twice
        ([M("ns/a", mig_profile="3g.40gb", mig_count=1),
          M("ns/b", mig_profile="3g.40gb", mig_count=1)],
         {"ns/a": _mp("a", Grant(1, profile="3g.40gb", start=4, existing=True)),
          "ns/b": _mp("a", Grant(1, profile="3g.40gb", start=4, existing=True))},
         "no free 3g.40gb@4"),
        # 2 x 2000 CPU on a 3000 CPU node
        ([M("ns/a", milli=300, cpu_milli=2000), M("ns/b", milli=300, cpu_milli=2000)],
         {"ns/a": _mp("a", Grant(0, milli=300)), "ns/b": _mp("a", Grant(0, milli=300))},
         "lacks CPU"),
        # 600 + 600 milli on one GPU
        ([M("ns/a", milli=600), M("ns/b", milli=600)],
         {"ns/a": _mp("a", Grant(0, milli=600)), "ns/b": _mp("a", Grant(0, milli=600))},
         "cannot take 600"),
        # a member left out: not all-or-nothing
        ([M("ns/a", whole=1), M("ns/b", whole=1)], {"ns/a": _mp("a", Grant(0, whole=True))},
         "every gang member"),
    ],
)
def test_exact_check_rejects_double_booking(members: list[GangMember],
                                            plan: dict[str, MemberPlacement], why: str) -> None:
    with pytest.raises(InvalidPlacementError, match=why):
        evaluate_plan(members, _CHECK_NODES, plan, CostModel(members, "fragmentation"))
