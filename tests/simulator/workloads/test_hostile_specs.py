"""Generator spec strings a planner might mistype (`--trace synthetic:...`, `multimodal:...`,
`trace generate --params`): each is refused with one line naming the option, or generates in
bounded time; a trace file whose name starts with a generator's name is read as a file."""

from __future__ import annotations

import math
import shutil
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.workloads.multimodal import BOUNDS, MultimodalParams, parse_params
from simulator.workloads.synthetic import SPEC_KEYS, from_spec, parse_spec
from simulator.workloads.traces import load


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("synthetic:jobs=100000000000", "jobs <= 1,000,000"),  # ran until killed
        ("synthetic:nodes=1000000000", "nodes <= 10,000"),  # ran until killed (1e9 NodeSpecs)
        (
            "synthetic:mean_interarrival_s=1e308",
            "mean_interarrival_s <= 1e+06",
        ),  # math domain error
        ("synthetic:jobs=1_000", "jobs must be an integer"),  # read as 1000
        ("synthetic:jobs=\u0663", "jobs must be an integer"),  # Arabic-Indic 3, read as 3
    ],
)
def test_a_spec_past_the_generators_bounds_is_refused(spec: str, needle: str) -> None:
    with pytest.raises(ValueError, match="bad synthetic trace option") as err:
        from_spec(spec)
    assert needle in str(err.value) and "\n" not in str(err.value)


KEY = st.sampled_from([*SPEC_KEYS, "colour", "", "SEED", "jobs "])
VALUE = st.one_of(
    st.integers(-(10**30), 10**30).map(str),
    st.floats(allow_nan=True).map(repr),
    st.text(max_size=8),
    st.sampled_from(["1_0", "\u0663", "1e400", "-0", "0x10", "inf"]),
)


@settings(max_examples=300)
@given(st.lists(st.tuples(KEY, VALUE), max_size=5))
def test_any_synthetic_spec_is_checked_before_generating(pairs: list[tuple[str, str]]) -> None:
    """Whatever the keys and values: a one-line ValueError naming the option, or options in
    range that generate (small sizes generated here; large ones refused before any work)."""
    spec = "synthetic:" + ",".join(f"{k}={v}" for k, v in pairs)
    try:
        args = parse_spec(spec)
    except ValueError as exc:
        assert str(exc).startswith("bad synthetic trace option") and "\n" not in str(exc)
        return
    assert all(math.isfinite(v) and v >= 0 for v in args.values())
    if args.get("jobs", 400) > 1_000_000 or args.get("nodes", 16) > 10_000:
        with pytest.raises(ValueError, match="bad synthetic trace option"):
            from_spec(spec)
    elif args.get("jobs", 400) <= 20 and args.get("nodes", 16) <= 20:
        try:
            w = from_spec(spec)
        except ValueError as exc:  # mix or mig_nodes: still one line, naming the option
            assert str(exc).startswith("bad synthetic trace option") and "\n" not in str(exc)
            return
        assert all(math.isfinite(j.arrival) for j in w.jobs)


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ("requests=1000000000000", "requests <= 5,000,000"),  # ran until killed
        ("models=1000000000", "models <= 100,000"),  # ran until killed
        ("hours=1e308", "hours <= 8,784"),  # ran until killed
        ("burst_every_s=1e-300", "bursts"),  # ran until killed
        ("burst_every_s=0", "0 < burst_every_s"),  # ZeroDivisionError traceback
        ("exec_gsd=0", "1 <= exec_gsd"),  # math domain error
        ("zipf_s=nan", "zipf_s"),  # "Total of weights must be finite"
        ("zipf_s=1000", "zipf_s <= 10"),
        ("training_jobs=-5", "0 <= training_jobs"),  # accepted: no training, silently
        ("seed=1,seed=2", "seed: given twice"),  # the last one won, silently
        ("models=1_0", "bad value '1_0'"),
        ("seed", "key=value"),
    ],
)
def test_a_bad_multimodal_option_is_one_line(params: str, needle: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_params(params)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_a_day_without_requests_generates() -> None:
    """`requests=0` was a ZeroDivisionError in the arrival process."""
    from simulator.workloads.multimodal import generate

    recs = generate(parse_params("requests=0,training_jobs=1,pipelines=0,ensembles=0"))
    assert recs and all(r.kind == "training" for r in recs)


@settings(max_examples=200)
@given(st.dictionaries(st.sampled_from(sorted(BOUNDS)), VALUE, max_size=4))
def test_any_multimodal_params_are_checked(raw: dict[str, str]) -> None:
    text = ",".join(f"{k}={v}" for k, v in raw.items())
    try:
        p = parse_params(text)
    except ValueError as exc:
        assert str(exc).startswith("multimodal") or "unknown multimodal" in str(exc)
        assert "\n" not in str(exc)
        return
    for name, (lo, hi) in BOUNDS.items():
        assert lo <= getattr(p, name) <= hi
    assert isinstance(p, MultimodalParams)


def _tiresias_copy(folder: Path, name: str) -> Path:
    src = resources.files("simulator.workloads").joinpath("tiresias_60_job.csv")
    with resources.as_file(src) as path:
        return Path(shutil.copy(path, folder / name))


@pytest.mark.parametrize("name", ["synthetic_week.csv", "multimodal-day.csv", "multimodal"])
def test_a_trace_file_named_like_a_generator_is_read_as_the_file(
    tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`synthetic_week.csv` was refused as a bad spec; `multimodal-day.csv` silently replayed
    the generated multimodal day instead of the file."""
    monkeypatch.chdir(tmp_path)
    _tiresias_copy(tmp_path, name)
    if name == "multimodal":  # the bare word stays the generator's
        assert load(name).name.startswith("multimodal-day")
        return
    w = load(name)
    assert len(w.jobs) == 60 and w.name == name
