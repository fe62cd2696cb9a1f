"""OR-Tools is imported by the first gang plan that needs a CP-SAT search, not by the planner:
a greedy plan that meets the lower bound (every gang of the replay's synthetic days) is
returned without it, so such a process never pays its ~0.3 CPU s import and ~60 MB."""

from __future__ import annotations

import subprocess
import sys

_PLAN = """
import sys
from packing.gang import plan_gang
from tests.packing.gang_builders import node, plain_gpu
from packing.gang.types import GangMember
members = [GangMember(f"ns/m{i}", whole=2) for i in range(2)]
plan = plan_gang(members, [node("a", *(plain_gpu(i) for i in range(4)))])
print(plan.status, "ortools" in sys.modules)
{more}
"""
# a half share: greedy cannot prove it optimal (a 999 -> 499 step is cheaper), so CP-SAT runs
_SEARCH = """
plan = plan_gang([GangMember("ns/s", milli=500)], [node("b", plain_gpu(0))])
print(plan.status, "ortools" in sys.modules)
"""


def _run(more: str) -> list[str]:
    code = _PLAN.replace("{more}", more)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.split("\n")[:-1]


def test_a_plan_meeting_the_bound_does_not_import_or_tools() -> None:
    assert _run("") == ["optimal False"]


def test_a_plan_that_needs_a_search_imports_it_and_searches() -> None:
    first, searched = _run(_SEARCH)
    assert first == "optimal False"
    assert searched == "optimal True"
