"""Repartition planner: hand-checked plans, mig-parted output, bad input, and properties."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from packing.errors import InvalidCountError, PackingError, UnknownProfileError
from packing.mig import MigInstance as Mi
from packing.mig import check_layout, valid_layouts
from packing.repartition import plan_repartition
from packing.repartition.greedy import greedy_layouts, mig_gpus
from packing.repartition.types import RepartitionPlan, mig_parted_config, plan_json
from tests.packing.gang_builders import mig_gpu, node, plain_gpu

H = "H100-80GB"


def _layout(plan: RepartitionPlan, name: str, index: int) -> tuple[Mi, ...]:
    n = next(n for n in plan.nodes if n.name == name)
    return next(g for g in n.gpus if g.index == index).layout


def test_free_instances_that_match_demand_are_kept() -> None:
    # two free 3g.40gb exist; demand 2 -> nothing to change
    nodes = [node("a", mig_gpu(0, ("3g.40gb", 0, False), ("3g.40gb", 4, False)))]
    plan = plan_repartition(nodes, {"3g.40gb": 2})
    assert (plan.status, plan.changes, dict(plan.served), dict(plan.unmet)) == (
        "optimal", 0, {"3g.40gb": 2}, {})


def test_in_use_instances_are_pinned_and_free_ones_reused() -> None:
    # GPU: 3g@0 in use, 3g@4 free.  Demand 4 x 1g.10gb: only [4,8) is available: destroy 3g@4
    # (1 change), create 1g@4,5,6 (3 changes); slice 7 cannot host a 1g -> 3 served, 1 unmet
    nodes = [node("a", mig_gpu(0, ("3g.40gb", 0, True), ("3g.40gb", 4, False)))]
    plan = plan_repartition(nodes, {"1g.10gb": 4})
    assert plan.status == "optimal"
    assert _layout(plan, "a", 0) == (Mi("3g.40gb", 0), Mi("1g.10gb", 4), Mi("1g.10gb", 5),
                                     Mi("1g.10gb", 6))
    assert (plan.changes, dict(plan.served), dict(plan.unmet)) == (4, {"1g.10gb": 3},
                                                                   {"1g.10gb": 1})


def test_fewest_changes_among_equal_service() -> None:
    # demand one 2g.20gb; GPU a0 is empty (1 change), GPU a1 is full of free 1g (would need
    # destroying 2 + creating 1) -> the plan uses a0
    nodes = [node("a", mig_gpu(0), mig_gpu(1, *(("1g.10gb", s, False) for s in range(7))))]
    plan = plan_repartition(nodes, {"2g.20gb": 1})
    assert plan.changes == 1 and _layout(plan, "a", 1) == tuple(
        Mi("1g.10gb", s) for s in range(7))


def test_mig_parted_v1_document() -> None:
    nodes = [node("gpu-1", mig_gpu(0), mig_gpu(1), mig_gpu(2, ("7g.80gb", 0, True)))]
    plan = plan_repartition(nodes, {"3g.40gb": 4})
    doc = mig_parted_config(plan)
    assert doc["version"] == "v1"
    # GPUs 0 and 1 get two 3g each (same counts -> one entry), GPU 2 keeps its in-use 7g
    assert doc["mig-configs"]["tessera-gpu-1"] == [
        {"devices": [0, 1], "mig-enabled": True, "mig-devices": {"3g.40gb": 2}},
        {"devices": [2], "mig-enabled": True, "mig-devices": {"7g.80gb": 1}},
    ]
    assert plan_json(plan)["nodes"][0]["gpus"][2]["pinned"] == [{"profile": "7g.80gb",
                                                                  "start": 0}]


def test_device_plugin_resource_names_accepted() -> None:
    plan = plan_repartition([node("a", mig_gpu(0))], {"nvidia.com/mig-3g.40gb": 2})
    assert dict(plan.served) == {"3g.40gb": 2} and plan.changes == 2


def test_non_mig_gpus_are_left_alone() -> None:
    nodes = [node("a", plain_gpu(0), mig_gpu(1))]
    plan = plan_repartition(nodes, {"7g.80gb": 1})
    assert [g.index for n in plan.nodes for g in n.gpus] == [1]


@pytest.mark.parametrize(
    ("demand", "err", "text"),
    [
        ({"1g.5gb": 1}, UnknownProfileError, "1g.5gb"),  # an A100-40GB name on H100s
        ({"3g.40gb": -1}, InvalidCountError, "-1"),
        ({"3g.40gb": 1.5}, InvalidCountError, "1.5"),
    ],
)
def test_bad_demand(demand: dict[str, object], err: type[Exception], text: str) -> None:
    with pytest.raises(err, match=text.replace(".", r"\.")):
        plan_repartition([node("a", mig_gpu(0))], demand)  # type: ignore[arg-type]


def test_no_mig_gpu_is_an_error() -> None:
    with pytest.raises(PackingError, match="no MIG-enabled GPU"):
        plan_repartition([node("a", plain_gpu(0))], {"3g.40gb": 1})


_LAYOUTS = valid_layouts(H)
_PROFILES = ["1g.10gb", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb", "1g.10gb+me"]


@st.composite
def fleets(draw: st.DrawFn, max_gpus: int = 3) -> list:
    gpus = []
    for j in range(draw(st.integers(1, max_gpus))):
        lay = _LAYOUTS[draw(st.integers(0, len(_LAYOUTS) - 1))]
        gpus.append(mig_gpu(j, *((i.profile, i.start, draw(st.booleans())) for i in lay)))
    return [node("n", *gpus)]


demands = st.dictionaries(st.sampled_from(_PROFILES), st.integers(0, 4), min_size=1,
                          max_size=3)


@settings(max_examples=80, deadline=None)
@given(nodes=fleets(), demand=demands)
def test_plan_never_touches_in_use_and_beats_greedy(nodes: list, demand: dict[str, int]) -> None:
    plan = plan_repartition(nodes, demand, time_limit_s=10.0)
    assert plan.status == "optimal"
    for slot, target in zip(nodes[0].gpus, plan.nodes[0].gpus, strict=True):
        in_use = {i for i, used in slot.instances if used}
        assert in_use <= set(target.layout)  # pinned instances survive
        assert not in_use & set(target.destroyed)
        check_layout(H, target.layout)  # valid layout
        counts = Counter(i.profile for i in target.layout)
        assert sum(counts.values()) == len(target.layout)
    assert all(plan.served[p] <= c for p, c in demand.items() if c)
    gpus = mig_gpus(nodes)
    greedy = greedy_layouts(gpus, {p: c for p, c in demand.items() if c})
    g_changes = sum(len(set(lay) ^ {i for i, _ in g.slot.instances})
                    for g, lay in zip(gpus, greedy, strict=True))
    g_served = sum(min(c, sum(1 for g, lay in zip(gpus, greedy, strict=True) for i in lay
                              if i.profile == p and i not in g.pinned))
                   for p, c in demand.items())
    assert (sum(plan.served.values()), -plan.changes) >= (g_served, -g_changes)


@settings(max_examples=40, deadline=None)
@given(nodes=fleets(max_gpus=1), demand=demands)
def test_single_gpu_plan_equals_brute_force(nodes: list, demand: dict[str, int]) -> None:
    # enumerate every valid layout that keeps the in-use instances; best (served, -changes)
    slot = nodes[0].gpus[0]
    old = {i for i, _ in slot.instances}
    in_use = {i for i, used in slot.instances if used}
    best = max(
        (sum(min(c, sum(1 for i in lay if i.profile == p and i not in in_use))
             for p, c in demand.items()), -len(set(lay) ^ old))
        for lay in _LAYOUTS if in_use <= set(lay))
    plan = plan_repartition(nodes, demand, time_limit_s=10.0)
    assert (sum(plan.served.values()), -plan.changes) == best
