"""The synthetic multimodal generator and the trace adapters."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.workloads.synthetic import generate
from simulator.workloads.traces import load


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31), jobs=st.integers(1, 80))
def test_generator_is_deterministic_and_well_formed(seed: int, jobs: int) -> None:
    a, b = generate(seed, jobs), generate(seed, jobs)
    assert a == b
    uids = [j.uid for j in a.jobs]
    assert len(set(uids)) == len(uids)
    known = set(uids)
    assert all(set(j.after) <= known for j in a.jobs)
    firsts = [j.arrival for j in a.jobs if not j.after]
    assert firsts == sorted(firsts)


def test_generator_mixes_the_four_kinds() -> None:
    kinds = {j.kind for j in generate(0, 200).jobs}
    assert kinds == {"inference", "training", "pipeline", "mig"}


@pytest.mark.parametrize("bad", ["synthetic:seed=x", "synthetic:colour=3"])
def test_bad_synthetic_spec_names_the_option(bad: str) -> None:
    with pytest.raises(ValueError, match="bad synthetic trace option"):
        load(bad)


def test_tiresias_trace_becomes_gangs(shared_dir) -> None:  # type: ignore[no-untyped-def]
    w = load(str(shared_dir / "traces/tiresias-60job/60_job.csv"))
    assert len(w.jobs) == 60
    # 30 jobs of 1 GPU + 10 of 2 are single pods; 10 of 4 and 10 of 8 are 2-pod gangs.
    assert sum(1 for j in w.jobs if j.min_member == 2) == 20
    assert sum(j.replicas * j.task.gpu.count for j in w.jobs) == 30 + 20 + 40 + 80  # type: ignore[union-attr]


def test_openb_pods_without_times_are_rejected_for_replay(tmp_path) -> None:  # type: ignore[no-untyped-def]
    pods = tmp_path / "p.csv"
    pods.write_text("name,cpu_milli,memory_mib,num_gpu,gpu_milli\nx,1000,1024,1,500\n")
    with pytest.raises(ValueError):
        load(str(pods))


def test_mix_selects_the_kinds() -> None:
    assert {j.kind for j in generate(0, 50, mix=(0.0, 0.0, 0.0, 1.0)).jobs} == {"mig"}
    with pytest.raises(ValueError, match="mix must be 4 shares"):
        generate(0, 5, mix=(0.5, 0.5, 0.5, 0.0))


def test_spec_accepts_every_generator_parameter_by_name() -> None:
    from simulator.workloads.synthetic import from_spec

    spec = ("synthetic:seed=3,jobs=40,nodes=6,mig_nodes=2,mean_interarrival_s=150.5,"
            "inference=0.4,training=0.3,pipeline=0.1,notebook=0.2")
    assert from_spec(spec) == generate(3, 40, 6, 2, 150.5, (0.4, 0.3, 0.1, 0.2))
    assert load(spec) == from_spec(spec)
    assert from_spec("synthetic") == generate()  # defaults are generate's
    assert from_spec("synthetic:seed=3", seed=9) == generate(9)  # the study's seed wins


@pytest.mark.parametrize(("spec", "needle"), [
    ("synthetic:colour=3", "known: seed, jobs"),
    ("synthetic:jobs", "key=value"),
    ("synthetic:jobs=1.5", "jobs must be an integer"),
    ("synthetic:mean_interarrival_s=fast", "mean_interarrival_s must be a number"),
    ("synthetic:mean_interarrival_s=nan", "finite"),
    ("synthetic:nodes=-1", ">= 0"),
    ("synthetic:seed=1,seed=2", "given twice"),
    ("synthetic:mean_interarrival_s=0", "0 < mean_interarrival_s"),
    ("synthetic:nodes=2,mig_nodes=3", "0 <= mig_nodes <= nodes"),
    ("synthetic:inference=0.9", "summing to 1"),
])
def test_bad_spec_is_one_line_naming_the_option(spec: str, needle: str) -> None:
    with pytest.raises(ValueError, match="bad synthetic trace option") as err:
        load(spec)
    assert needle in str(err.value) and "\n" not in str(err.value)
