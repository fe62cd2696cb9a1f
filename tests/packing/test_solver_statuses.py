"""Every CP-SAT status the planners can meet is turned into an honest answer.

OPTIMAL and FEASIBLE come from real solves elsewhere; the other statuses are hard to provoke on
purpose, so here the solver's `solve` is replaced by a fake that returns them (a unit-test fake,
nothing else is faked: the greedy fallback and the exact plan check run for real).
"""

from __future__ import annotations

import pytest
from ortools.sat.python import cp_model

from packing.gang import plan_gang
from packing.gang.cost import CostModel
from packing.gang.greedy import greedy
from packing.gang.state import FleetState
from packing.gang.types import GangMember
from packing.repartition import plan_repartition
from tests.packing.gang_builders import mig_gpu, node, plain_gpu


@pytest.fixture()
def solver_says(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    def set_status(code: int) -> None:
        monkeypatch.setattr(cp_model.CpSolver, "solve", lambda self, model, cb=None: code)
    return set_status


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (cp_model.UNKNOWN, "time limit"),
        (cp_model.MODEL_INVALID, "MODEL_INVALID"),
        (cp_model.INFEASIBLE, "infeasible although greedy found a plan"),
    ],
)
def test_gang_falls_back_to_greedy(solver_says, code: int, reason: str) -> None:  # type: ignore[no-untyped-def]
    solver_says(code)
    # a half share: greedy cannot prove it optimal (a 999 -> 499 step is cheaper), so CP-SAT runs
    plan = plan_gang([GangMember("ns/a", milli=500)], [node("a", plain_gpu(0))])
    assert plan.status == "greedy" and reason in plan.reason
    assert plan.placements["ns/a"].node == "a"


def test_gang_unknown_without_greedy_is_infeasible_not_proven(solver_says) -> None:  # type: ignore[no-untyped-def]
    # greedy puts the small-CPU member first on node a (lowest name on a tie), then the 3-CPU
    # member fits nowhere; a solution exists (swap them).  The faked solver times out, so the
    # answer is "infeasible" with a reason that says it was not proven.
    solver_says(cp_model.UNKNOWN)
    nodes = [node("a", plain_gpu(0), cpu=4000), node("b", plain_gpu(0), cpu=1000)]
    members = [GangMember("ns/small", whole=1, cpu_milli=1000),
               GangMember("ns/big", whole=1, cpu_milli=3000)]
    plan = plan_gang(members, nodes)
    assert plan.status == "infeasible" and "time limit" in plan.reason
    assert "greedy found no placement" in plan.reason


def test_cpsat_finds_what_greedy_misses() -> None:
    # the same instance with the real solver: CP-SAT swaps the members
    nodes = [node("a", plain_gpu(0), cpu=4000), node("b", plain_gpu(0), cpu=1000)]
    members = [GangMember("ns/small", whole=1, cpu_milli=1000),
               GangMember("ns/big", whole=1, cpu_milli=3000)]
    assert greedy(FleetState(nodes, CostModel(members, "fragmentation")), members) is None
    plan = plan_gang(members, nodes)
    assert plan.status == "optimal"
    assert {k: mp.node for k, mp in plan.placements.items()} == {"ns/big": "a", "ns/small": "b"}


@pytest.mark.parametrize("code", [cp_model.UNKNOWN, cp_model.MODEL_INVALID,
                                  cp_model.INFEASIBLE])
def test_repartition_falls_back_to_greedy(solver_says, code: int) -> None:  # type: ignore[no-untyped-def]
    solver_says(code)
    plan = plan_repartition([node("a", mig_gpu(0))], {"3g.40gb": 2})
    assert plan.status == "greedy" and dict(plan.served) == {"3g.40gb": 2}
