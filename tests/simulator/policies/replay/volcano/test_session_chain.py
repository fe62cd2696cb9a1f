"""Volcano's session chain: `wait.Until(runOnce, period)` is sliding, so a session opens one
period after the previous one *ended*, and a session's run grows with the binds it writes
(`VolcanoConfig.session_run_s`, `session_run_per_bind_s`, `session_run_sd_s`); a session that
bound nothing runs `session_idle_run_s` when that is set (round 9)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.policy.model import GpuRequest
from simulator.policies.replay.volcano.config import VolcanoConfig
from simulator.policies.replay.volcano.policy import VolcanoPolicy
from simulator.replay.driver import replay
from simulator.workloads.model import JobSpec, NodeSpec, TaskSpec, Workload

GiB = 1024**3
NODES = (NodeSpec("n0", "H100-80GB", 8, 96_000, 384 * GiB),)


def _job(uid: str, at: float, replicas: int = 1) -> JobSpec:
    return JobSpec(uid, at, 5.0, TaskSpec(1_000, GiB, GpuRequest("whole", count=1)),
                   replicas=replicas)  # fmt: skip


@pytest.mark.parametrize(("cfg", "binds", "queries", "want"), [
    # No run time: sessions stay on the fixed grid (the driver's own k x period).
    (VolcanoConfig(schedule_period_s=10.0), 0, [5.0], [None]),
    # Session at 0 runs 2 s (nothing bound): the next opens 0 + 2 + 10 = 12; asked at 5 -> 12;
    # asked at 13 -> the idle session at 12 ran 2 s too: 12 + 2 + 10 = 24.
    (VolcanoConfig(schedule_period_s=10.0, session_run_s=2.0), 0, [5.0, 13.0], [12.0, 24.0]),
    # It bound 3 tasks at 1 s each: run 2 + 3 x 1 = 5, next at 15; the idle one after runs 2:
    # 15 + 2 + 10 = 27.
    (VolcanoConfig(schedule_period_s=10.0, session_run_s=2.0, session_run_per_bind_s=1.0), 3,
     [15.0, 16.0], [15.0, 27.0]),
    # With an idle run of 0.5 s: the binding session still runs 2 + 3 x 1 = 5 (next at 15);
    # the idle one at 15 runs 0.5: 15 + 0.5 + 10 = 25.5, then 25.5 + 0.5 + 10 = 36.
    (VolcanoConfig(schedule_period_s=10.0, session_run_s=2.0, session_run_per_bind_s=1.0,
                   session_idle_run_s=0.5), 3, [15.0, 16.0, 26.0], [15.0, 25.5, 36.0]),
    # Idle sessions that take no time (0.0, not None): 0 binds -> next at 0 + 0 + 10 = 10,
    # then 20; the base run of 2 s is a binding session's only.
    (VolcanoConfig(schedule_period_s=10.0, session_run_s=2.0, session_idle_run_s=0.0), 0,
     [5.0, 11.0], [10.0, 20.0]),
])  # fmt: skip
def test_a_session_opens_one_period_after_the_previous_one_ended(cfg, binds, queries,
                                                                 want) -> None:  # fmt: skip
    p = VolcanoPolicy(NODES, random.Random(0), cfg)
    if binds:
        p.submit(_job("a", 0.0, replicas=binds), 0.0)
    assert p.session_at(0.0) in (None, 0.0)
    assert len(p.schedule(0.0)) == binds
    assert [p.session_at(q) for q in queries] == want


@pytest.mark.parametrize(("cfg", "want"), [
    # Fixed grid of 10 s: a bound at 0 (wait 0); b, submitted at 11, waits for 20 (9 s).
    (VolcanoConfig(schedule_period_s=10.0), [0.0, 9.0]),
    # Each session runs 2 s: sessions at 0, 12, 24: b waits 12 - 11 = 1 s.
    (VolcanoConfig(schedule_period_s=10.0, session_run_s=2.0), [0.0, 1.0]),
    # a binds 3 tasks at 1 s each: the next session opens 0 + 5 + 10 = 15: b waits 4 s.
    (VolcanoConfig(schedule_period_s=10.0, session_run_s=2.0, session_run_per_bind_s=1.0),
     [0.0, 0.0, 0.0, 4.0]),
])  # fmt: skip
def test_the_replay_starts_a_job_at_the_chains_next_session(cfg, want) -> None:
    a = 3 if cfg.session_run_per_bind_s else 1
    w = Workload("chain", NODES, (_job("a", 0.0, replicas=a), _job("b", 11.0)), "test")
    res = replay(w, VolcanoPolicy(NODES, random.Random(0), cfg))
    assert res.waits["pods"] == pytest.approx(want)  # each pod's wait, sorted


def test_the_tie_break_stream_is_untouched_by_the_timing_draws() -> None:
    rng = random.Random(7)
    p = VolcanoPolicy(NODES, rng, VolcanoConfig(session_run_s=0.1, session_run_sd_s=0.05))
    p.session_at(100.0)  # draws idle sessions' runs
    assert rng.random() == random.Random(7).random()


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), period=st.floats(0.5, 400.0),
       run=st.floats(0.001, 50.0), per_bind=st.floats(0.0, 10.0), sd=st.floats(0.0, 60.0),
       idle=st.none() | st.floats(0.0, 50.0),
       asks=st.lists(st.floats(0.0, 5_000.0), min_size=1, max_size=8))  # fmt: skip
def test_session_gaps_for_a_seed_are_reproducible_and_never_below_the_period(
        seed, period, run, per_bind, sd, idle, asks) -> None:  # fmt: skip
    cfg = VolcanoConfig(schedule_period_s=period, session_run_s=run,
                        session_run_per_bind_s=per_bind, session_run_sd_s=sd,
                        session_idle_run_s=idle)  # fmt: skip
    runs = []
    for _ in range(2):
        p = VolcanoPolicy(NODES, random.Random(seed), cfg)
        opens = []
        for at in sorted(asks):
            t = p.session_at(at)
            assert t is not None and t >= at - 1e-9
            opens.append(t)
            if t == p.session_at(t):
                p.schedule(t)
        runs.append((opens, p.gaps))
    assert runs[0] == runs[1]
    assert all(g >= period for g in runs[0][1])
