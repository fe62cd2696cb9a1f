"""Properties of the Volcano model over random clusters and gangs (hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.policies.replay.volcano import TaskStatus
from simulator.policies.replay.volcano.objects import READY

from .builders import job, node, req, scheduler

gangs = st.lists(st.tuples(st.integers(1, 4), st.integers(1, 8)), min_size=1, max_size=8)


@settings(max_examples=40, deadline=None)
@given(nodes=st.integers(1, 4), gang_specs=gangs, seed=st.integers(0, 1000))
def test_gangs_bind_all_or_nothing_and_nodes_never_overflow(
    nodes: int, gang_specs: list[tuple[int, int]], seed: int
) -> None:
    s = scheduler(*(node(f"n{i}") for i in range(nodes)), seed=seed)
    for k, (pods, gpus) in enumerate(gang_specs):
        s.add_job(job(f"g{k}", pods, resreq=req(gpus=gpus), creation=k))
    for _ in range(3):
        s.run_cycle()
        for j in s.jobs.values():
            placed = j.ready_num()
            assert placed == 0 or placed >= j.min_member  # never a partial gang
        for n in s.nodes.values():
            assert all(v <= n.allocatable.get(k, 0) for k, v in n.used.items())
        s.complete_binds()


@settings(max_examples=40, deadline=None)
@given(gang_specs=gangs)
def test_job_tally_matches_its_tasks(gang_specs: list[tuple[int, int]]) -> None:
    # The incremental per-status tally (TaskStatusIndex) equals a recount after cycles.
    s = scheduler(node("n0"), node("n1"))
    for k, (pods, gpus) in enumerate(gang_specs):
        s.add_job(job(f"g{k}", pods, resreq=req(gpus=gpus), creation=k))
    s.run_cycle()
    s.complete_binds()
    for j in s.jobs.values():
        recount = sum(1 for t in j.tasks.values() if t.status in READY)
        assert j.ready_num() == recount
        pending = [t for t in j.tasks.values() if t.status is TaskStatus.PENDING]
        assert j.pending_tasks() == pending
