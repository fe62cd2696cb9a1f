"""One test per behaviour of shared/reference/volcano-model.md section 13.

Items 2-15 here; item 1 (the periodic tick) is tested on the replay adapter
(tests/simulator/replay/test_replay.py::test_volcano_decides_only_on_its_one_second_ticks)."""

from __future__ import annotations

from simulator.cluster.resources import GPU, MILLI, mig_resource
from simulator.policies.replay.volcano import JobPhase, TaskStatus, VolcanoConfig
from simulator.policies.replay.volcano.objects import Queue
from simulator.policies.replay.volcano.sampling import NodeSampler, num_feasible_nodes_to_find

from .builders import committed_names, job, node, req, scheduler


def test_2_no_preemption_high_priority_gang_waits() -> None:
    s = scheduler(node("n0"))
    s.add_job(job("low", 1, resreq=req(gpus=8)))
    s.run_cycle()
    s.complete_binds()
    s.add_job(job("high", 1, resreq=req(gpus=8), priority=1000, creation=1))
    for _ in range(3):
        assert s.run_cycle().committed == ()
    assert s.tasks["low-0"].status is TaskStatus.RUNNING  # never evicted
    assert s.tasks["high-0"].status is TaskStatus.PENDING


def test_3_enqueue_without_min_resources_is_immediate_and_overcommit_gates_the_rest() -> None:
    s = scheduler(node("n0"), node("n1"))  # total 16 GPUs -> overcommit idle 1.2 * 16 = 19.2
    s.add_job(job("free", 1, resreq=req(gpus=32)))  # no minResources: admitted though it can't fit
    # 12 + 8 = 20 GPUs of minResources > 19.2: the second one is rejected this cycle.
    s.add_job(job("a", 12, min_member=12, min_resources={GPU: 12 * MILLI}, creation=1,
                  resreq=req(gpus=1)))
    s.add_job(job("b", 8, min_member=8, min_resources={GPU: 8 * MILLI}, creation=2,
                  resreq=req(gpus=1)))
    res = s.run_cycle()
    assert set(res.admitted) == {"free", "a"}
    assert s.jobs["b"].phase is JobPhase.PENDING
    s.complete_binds()
    s.run_cycle()  # a's 12 GPUs now used: idle 19.2 - 12 = 7.2 < 8 -> still rejected
    assert s.jobs["b"].phase is JobPhase.PENDING
    for t in list(s.jobs["a"].tasks):
        s.finish_task(t)
    # Next cycle a is still Running at enqueue time, but with 0 of its 12 tasks allocated:
    # overcommit counts a Running job's unallocated minimum only when at least minMember tasks
    # are allocated (CalculateAllocatedTaskNum 0 < 12), so idle 19.2 - 0 >= 8 and b is
    # admitted; the cycle's close marks a Completed.
    s.run_cycle()
    assert s.jobs["b"].phase is not JobPhase.PENDING
    assert s.jobs["a"].phase is JobPhase.COMPLETED


def test_3_closed_queue_rejects_jobs_with_min_resources() -> None:
    s = scheduler(node("n0"))
    s.add_queue(Queue("q", open=False))
    s.add_job(job("a", 1, queue="q", min_resources={GPU: MILLI}))
    s.run_cycle()
    assert s.jobs["a"].phase is JobPhase.PENDING


def test_4_job_valid_requires_all_min_member_pods_to_exist() -> None:
    s = scheduler(node("n0"))
    j = job("g", 3, resreq=req(gpus=1))
    last = j.tasks.pop("g-2")
    s.add_job(j)
    s.run_cycle()
    assert s.run_cycle().committed == ()  # 8 free GPUs, but only 2 of 3 pods exist
    s.add_task(last)
    assert sorted(committed_names(s.run_cycle())) == ["g-0", "g-1", "g-2"]


def test_5_all_or_nothing_binds_nothing_and_holds_nothing() -> None:
    s = scheduler(node("n0"), node("n1"))  # 2 nodes x 8 GPUs
    s.add_job(job("g", 3, resreq=req(gpus=8)))  # 3 x 8-GPU pods
    for _ in range(2):
        assert s.run_cycle().committed == ()
        assert all(n.used.get(GPU, 0) == 0 and not n.tasks for n in s.nodes.values())
    assert all(t.status is TaskStatus.PENDING for t in s.jobs["g"].tasks.values())


def test_6_elastic_job_gets_min_member_first_then_one_task_per_turn() -> None:
    # Turn 1: a (not ready, older) places exactly minMember=2; now ready, it sorts behind
    # not-ready b; b places 1; then a gets one task per turn.
    s2 = scheduler(node("n0"), node("n1"))
    s2.add_job(job("a", 4, min_member=2, resreq=req(gpus=1), creation=0))
    s2.add_job(job("b", 1, resreq=req(gpus=1), creation=1))
    assert committed_names(s2.run_cycle()) == ["a-0", "a-1", "b-0", "a-2", "a-3"]


def test_7_job_order_priority_then_creation_and_task_order_by_name_index() -> None:
    s = scheduler(node("n0"))
    s.add_job(job("old", 1, resreq=req(gpus=8), creation=0))
    s.add_job(job("urgent", 1, resreq=req(gpus=8), creation=5, priority=10))
    assert committed_names(s.run_cycle()) == ["urgent-0"]
    s = scheduler(node("n0", gpus=2))
    j = job("t", 3, min_member=1, resreq=req(gpus=1))
    # names t-0, t-1, t-2 but with t-0 renamed t-10: index 10 sorts last.
    j.tasks["t-0"].name = "t-10"
    s.add_job(j)
    assert committed_names(s.run_cycle()) == ["t-1", "t-2"]


def test_7_drf_prefers_the_job_with_the_smaller_dominant_share() -> None:
    s = scheduler(node("n0", gpus=8))
    s.add_job(job("big", 5, min_member=1, resreq=req(gpus=1), creation=0))
    s.add_job(job("small", 5, min_member=1, resreq=req(gpus=1), creation=1))
    # Both ready after one task each; then drf alternates: big, small, big, small, ...
    names = committed_names(s.run_cycle())
    assert names[:4] == ["big-0", "small-0", "big-1", "small-1"]


def test_7_queue_order_by_priority() -> None:
    s = scheduler(node("n0", gpus=2))  # weights 1:1 -> each queue deserves 1 GPU
    s.add_queue(Queue("lowq", priority=0))
    s.add_queue(Queue("highq", priority=5, creation=9))
    s.add_job(job("x", 1, queue="lowq"))
    s.add_job(job("y", 1, queue="highq", creation=3))
    assert committed_names(s.run_cycle()) == ["y-0", "x-0"]


def test_7_proportion_caps_a_queue_at_its_deserved_share() -> None:
    s = scheduler(node("n0", gpus=1))  # 2 queues of weight 1: each deserves 0.5 GPU
    s.add_queue(Queue("a"))
    s.add_queue(Queue("b"))
    s.add_job(job("x", 1, queue="a"))
    s.add_job(job("y", 1, queue="b"))
    assert s.run_cycle().committed == ()  # allocated 0 + 1 GPU > deserved 0.5 in both queues


def test_8_mig_profiles_are_independent_counters() -> None:
    one_g, three_g = mig_resource("1g.10gb"), mig_resource("3g.40gb")
    # One H100 advertised as 7 x 1g.10gb and 2 x 3g.40gb (two alternative layouts of the same
    # 8 memory slices): Volcano books both in full, 7 + 2x4 = 15 slices from 8.
    s = scheduler(node("n0", gpus=0, extra={one_g: 7 * MILLI, three_g: 2 * MILLI}))
    s.add_job(job("small", 7, min_member=1, resreq=req(gpus=0, extra={one_g: MILLI})))
    s.add_job(job("large", 2, min_member=1, resreq=req(gpus=0, extra={three_g: MILLI})))
    assert len(s.run_cycle().committed) == 9
    s.add_job(job("more", 1, resreq=req(gpus=0, extra={one_g: MILLI})))
    assert s.run_cycle().committed == ()  # the 1g counter alone is exhausted


def test_9_idle_nodes_win_over_releasing_and_releasing_only_pipelines() -> None:
    s = scheduler(node("busy", gpus=8), node("idle", gpus=2))
    s.add_job(job("old", 1, resreq=req(gpus=8)))
    s.run_cycle()
    s.complete_binds()
    s.release_task("old-0")  # 8 GPUs releasing on "busy"
    s.add_job(job("a", 1, resreq=req(gpus=2), creation=1))
    res = s.run_cycle()
    assert [(t.name, t.node) for t in res.committed] == [("a-0", "idle")]
    s.complete_binds()
    s.add_job(job("b", 1, resreq=req(gpus=4), creation=2))
    assert s.run_cycle().committed == ()  # fits only via releasing -> Pipelined, not bound
    assert s.tasks["b-0"].status is TaskStatus.PIPELINED


def test_10_node_sampling_cut_off_and_rotation() -> None:
    cfg = VolcanoConfig()
    # n <= 100 -> all; 500 -> 500*46//100 = 230; 1000 -> 1000*42//100 = 420; 5000 -> max(100,
    # 5000*10//100) = 500; 20000 -> pct max(5, 50-160) = 5 -> 1000.
    assert [num_feasible_nodes_to_find(cfg, n) for n in (50, 100, 500, 1000, 5000, 20000)] == [
        50, 100, 230, 420, 500, 1000]
    nodes = [node(f"n{i}") for i in range(5000)]
    sampler = NodeSampler()
    first = sampler.feasible(cfg, nodes, lambda n: True)
    second = sampler.feasible(cfg, nodes, lambda n: True)
    assert len(first) == 500 and first[0].name == "n0"
    assert second[0].name == "n500"  # rotating start index


def test_11_scoring_sum_and_gpu_not_binpacked() -> None:
    from simulator.policies.replay.volcano.objects import Task
    from simulator.policies.replay.volcano.scoring import (
        balance,
        balanced_allocation,
        binpack,
        least_allocated,
        node_score,
    )

    cfg = VolcanoConfig()
    n = node("n", gpus=8, cpu_milli=10_000, mem_gib=100)
    t = Task("t", "t", "j", req(gpus=4, cpu_milli=2_000, mem_gib=50))
    # least: cpu (10000-2000)*100//10000 = 80, mem (100-50)*100//100 = 50 -> (80*50+50*50)//100 = 65
    assert least_allocated(n, t) == 65
    # balanced (k8s >= 1.36, the change in balance): with the pod fractions cpu .2, mem .5,
    # gpu .5; mean .4; var (.04+.01+.01)/3 = .02; std .1414 -> int((1-.1414)*100) = 85;
    # without it all 0 -> 100; 50 + (50 + 85 - 100) // 2 = 50 + 17 = 67
    assert balance([0.2, 0.5, 0.5]) == 85
    assert balanced_allocation(n, t) == 67
    # binpack: cpu .2, mem .5 (GPU not listed) -> (.2+.5)/2*100 = 35
    assert abs(binpack(cfg, n, t) - 35.0) < 1e-9
    # + TaintToleration 3 x 100 on every node
    assert abs(node_score(cfg, n, t) - (35 + 65 + 67 + 300)) < 1e-9
    t8 = Task("t8", "t8", "j", req(gpus=8, cpu_milli=2_000, mem_gib=50))
    assert binpack(cfg, n, t8) == binpack(cfg, n, t)  # GPU count does not move binpack
    big = Task("b", "b", "j", req(gpus=0, cpu_milli=20_000, mem_gib=1))
    assert binpack(cfg, n, big) == 0.0  # overflow on a weighted resource -> 0


def test_12_in_cycle_accounting_spreads_second_pod() -> None:
    s = scheduler(node("n0"), node("n1"))
    s.add_job(job("a", 1, resreq=req(gpus=5)))
    s.add_job(job("b", 1, resreq=req(gpus=5), creation=1))
    res = s.run_cycle()
    assert {t.node for t in res.committed} == {"n0", "n1"}  # 5 + 5 > 8: b saw a's booking


def test_13_phase_lags_one_cycle_after_bind() -> None:
    s = scheduler(node("n0"))
    s.add_job(job("g", 2))
    s.run_cycle()
    assert s.jobs["g"].phase is JobPhase.INQUEUE  # Binding does not count as scheduled
    assert s.jobs["g"].ready()  # but counts as ready for gang
    s.complete_binds()
    s.run_cycle()
    assert s.jobs["g"].phase is JobPhase.RUNNING


def test_14_bind_in_flight_counts_as_used_next_cycle() -> None:
    s = scheduler(node("n0"))
    s.add_job(job("a", 1, resreq=req(gpus=8)))
    s.run_cycle()  # committed, bind not yet complete
    s.add_job(job("b", 1, resreq=req(gpus=1), creation=1))
    assert s.run_cycle().committed == ()
    assert s.tasks["a-0"].status is TaskStatus.BINDING


def test_15_pipelined_holds_block_only_within_their_cycle() -> None:
    s = scheduler(node("n0", gpus=8))
    s.add_job(job("old", 1, resreq=req(gpus=8)))
    s.run_cycle()
    s.complete_binds()
    s.release_task("old-0")
    s.add_job(job("p", 1, resreq=req(gpus=8), creation=1, priority=1))
    s.add_job(job("q", 1, resreq=req(gpus=8), creation=2))
    s.run_cycle()
    # p pipelined onto the releasing 8 GPUs; q, later in order, found FutureIdle 8-8 = 0.
    assert s.tasks["p-0"].status is TaskStatus.PIPELINED
    assert s.tasks["q-0"].status is TaskStatus.PENDING
    s.finish_task("old-0")
    res = s.run_cycle()  # fresh snapshot: the hold is gone; p (priority) binds on idle GPUs
    assert committed_names(res) == ["p-0"]
