"""A gang member bound where its plan had no open slot frees one of the plan's open slots.

Measured on the real control plane (benchmarks/RESULTS.md, Digital twin, round 5): kube-
scheduler filters member B while member A's bind is in flight, so both see the plan's open
slots on nodes a and b and pass both; A binds to b, then B binds to b too (b has room for
both). The slot planned on a was left held for a member who never comes, until the plan lapsed
(120 s wall), and pods that fit a waited for it.

The cluster in every row: node a (8 GPUs, one used by running pod x: 7 free) and node b (8
free). The gang: 2 members x 4 GPUs; the planner splits it, one slot on a and one on b (the
first row checks that), and both members' filters pass a and b before either binds.
"""

from __future__ import annotations

import pytest

from tests.builders import event, gang_member_json, gpu_json, node_json, pod_json

GANG = "default/g"


def _member(i: int) -> dict:
    return gang_member_json(f"w{i}", {"nvidia.com/gpu": 4}, "g", 2)


def _split_plan(ext) -> list[dict]:
    for n in ("a", "b"):
        ext.store.apply(event(node_json(n, [gpu_json(i) for i in range(8)])))
    ext.store.apply(event(pod_json("x", {"nvidia.com/gpu": 1}, node="a", phase="Running")))
    ms = [_member(i) for i in range(2)]
    for m in ms:
        ext.store.apply(event(m))
    first = ext.filter(ms[0], ["a", "b"])
    second = ext.filter(ms[1], ["a", "b"])  # before the first member binds
    assert (first.gang_outcome, first.passed) == ("planned", ["a", "b"])
    assert (second.gang_outcome, second.passed) == ("steered", ["a", "b"])
    return ms


def _bound(ext, m: dict, node: str) -> None:
    """The watch shows the member bound and running on `node`."""
    m["spec"]["nodeName"] = node
    m["status"]["phase"] = "Running"
    ext.store.apply(event(m, "MODIFIED"))


def _gang_holds(ext, now: float) -> dict[str, str]:
    return {k: a.placement.node for k, a in ext.store.ledger.live(now).items()
            if k.startswith("gang:")}  # fmt: skip


# (binds in order as (member, node), the gang's slot holds left once the watch shows them,
# whether a 4-GPU pod then passes node a: a has 8 - 1 (x) = 7 free, minus 4 per member or
# slot hold there).
ROWS = [
    # Both members on b, one off plan: a's slot is released (7 free on a: a 4-GPU pod fits).
    ([(0, "b"), (1, "b")], {}, True),
    ([(1, "b"), (0, "b")], {}, True),
    # Each on its own slot: nothing left held; a has 7 - 4 = 3 free: no 4-GPU pod.
    ([(0, "a"), (1, "b")], {}, False),
    ([(0, "b"), (1, "a")], {}, False),
    # One member bound on its slot b, the other not yet bound: a's slot stays held for it
    # (7 - 4 = 3 free on a).
    ([(0, "b")], {f"gang:{GANG}#0": "a"}, False),
]


@pytest.mark.parametrize(("binds", "left", "a_fits_4"), ROWS)
def test_an_off_plan_member_releases_one_open_slot(ext, clock, binds, left, a_fits_4) -> None:
    ms = _split_plan(ext)
    for i, node in binds:
        assert ext.bind(f"w{i}", "default", f"uid-default-w{i}", node) == ""
        _bound(ext, ms[i], node)
    assert _gang_holds(ext, clock.t) == left
    s = pod_json("s", {"nvidia.com/gpu": 4})
    ext.store.apply(event(s))
    assert ("a" in ext.filter(s, ["a", "b"]).passed) is a_fits_4


def test_an_off_plan_member_takes_a_slot_so_the_last_member_keeps_its_own(ext, clock) -> None:
    # 3 members x 2 GPUs on a (7 free) and b (8 free): the planner packs them on one node;
    # member 0 binds on the other one. Only one of the 3 open slots leaves the plan.
    for n in ("a", "b"):
        ext.store.apply(event(node_json(n, [gpu_json(i) for i in range(8)])))
    ext.store.apply(event(pod_json("x", {"nvidia.com/gpu": 1}, node="a", phase="Running")))
    ms = [gang_member_json(f"w{i}", {"nvidia.com/gpu": 2}, "g", 3) for i in range(3)]
    for m in ms:
        ext.store.apply(event(m))
    assert ext.filter(ms[0], ["a", "b"]).gang_outcome == "planned"
    rec = ext.store.ledger.gang(GANG, clock.t)
    nodes = [s.node for s in rec.slots]
    assert len(set(nodes)) == 1, nodes
    off = next(n for n in ("a", "b") if n not in nodes)
    assert ext.bind("w0", "default", "uid-default-w0", off) == ""
    assert len(_gang_holds(ext, clock.t)) == 2  # 3 slots, 1 released for the off-plan member
