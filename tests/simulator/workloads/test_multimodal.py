"""The synthetic multimodal day: deterministic per seed, the shapes its docstring promises, and
records that load back through the schema and replay as DAGs and gangs."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.workloads.from_schema import jobs_from_records
from simulator.workloads.multimodal import MultimodalParams, generate, mig_for, parse_params
from simulator.workloads.schema import load_records, write_records

SMALL = MultimodalParams(seed=5, models=120, requests=3000, training_jobs=30, pipelines=6,
                         ensembles=5)


def test_same_seed_same_records_other_seed_differs() -> None:
    assert generate(SMALL) == generate(SMALL)
    other = generate(MultimodalParams(**{**SMALL.__dict__, "seed": 6}))
    assert other != generate(SMALL)


def test_shapes() -> None:
    recs = generate(SMALL)
    kinds = Counter(r.kind for r in recs)
    assert kinds["service"] == 5 and kinds["pipeline_stage"] >= 6 * 6  # 5 stages, tune >= 2
    # requests: about the asked count (Poisson), many models, every modality, long tail
    reqs = [r for r in recs if r.kind == "request"]
    assert 2400 < len(reqs) < 4200
    per_model = Counter(r.model for r in reqs)
    assert len(per_model) >= 40
    top, *_ = per_model.most_common(1)
    assert top[1] > 10 * sorted(per_model.values())[len(per_model) // 2]  # head >> median
    # gangs: 2..64 pods, powers of two, every member present and agreeing on the size
    gangs = Counter(r.gang_id for r in recs if r.kind == "training")
    sizes = {r.gang_id: r.gang_size for r in recs if r.kind == "training"}
    assert all(gangs[g] == sizes[g] and sizes[g] in (2, 4, 8, 16, 32, 64) for g in gangs)
    # requests ask MIG slices sized to their model, or whole GPUs for big models
    assert {r.gpu.split(":")[0] for r in reqs} <= {"mig", "whole"}


@pytest.mark.parametrize(("gib", "gpu"), [
    (9.0, "mig:1g.10gb"), (9.75, "mig:1g.10gb"), (10.0, "mig:2g.20gb"), (39.0, "mig:3g.40gb"),
    (40.0, "whole:1"), (79.25, "whole:1"), (100.0, "whole:2"), (500.0, "whole:8"),
])
def test_model_memory_to_gpu(gib: float, gpu: str) -> None:
    assert mig_for(gib) == gpu


def test_pipeline_stages_wait_for_upstream_and_round_trip(tmp_path: Path) -> None:
    recs = generate(SMALL)
    path = tmp_path / "day.jsonl"
    write_records(path, recs)
    assert list(load_records(path).rows) == recs
    jobs = {j.uid: j for j in jobs_from_records(tuple(r for r in recs if r.kind != "request"))}
    # pipe-000: prep -> tune (a gang) -> eval -> export and report
    assert jobs["pipe-000-prep"].after == ()
    assert jobs["pipe-000-tune"].after == ("pipe-000-prep",)
    assert jobs["pipe-000-tune"].min_member == jobs["pipe-000-tune"].replicas >= 2
    assert jobs["pipe-000-eval"].after == ("pipe-000-tune",)
    assert jobs["pipe-000-export"].after == jobs["pipe-000-report"].after == ("pipe-000-eval",)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_any_seed_gives_a_valid_trace(seed: int) -> None:
    recs = generate(MultimodalParams(seed=seed, models=50, requests=300, training_jobs=5,
                                     pipelines=2, ensembles=2))
    assert len({r.id for r in recs}) == len(recs)
    assert all(0 <= r.arrival_s < 24 * 3600 and r.duration_s > 0 for r in recs)
    jobs_from_records(tuple(recs))  # gangs and links resolve


def test_parse_params_names_bad_keys() -> None:
    assert parse_params("seed=3,requests=50,zipf_s=1.2").zipf_s == 1.2
    with pytest.raises(ValueError, match="unknown multimodal option 'color'"):
        parse_params("color=3")
    with pytest.raises(ValueError, match="bad value 'x'"):
        parse_params("seed=x")
