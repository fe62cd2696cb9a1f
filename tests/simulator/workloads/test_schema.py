"""Multimodal trace schema: CSV and JSONL round-trip, file:line:column errors, --lenient counts,
and the converters agree with the replay loaders they mirror."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.workloads.convert import from_genai, from_tiresias
from simulator.workloads.from_schema import workload_from_records
from simulator.workloads.schema import (
    FIELDS,
    KINDS,
    MODALITIES,
    SchemaError,
    TraceRecord,
    load_records,
    write_records,
)
from simulator.workloads.traces import tiresias

ROOT = Path(__file__).parents[3]
TIRESIAS = ROOT / "simulator" / "workloads" / "tiresias_60_job.csv"
HEADER = ",".join(FIELDS)

_ids = st.text("abcdefgh0123456789-", min_size=1, max_size=8)
_gpu = st.one_of(st.just(""), st.integers(1, 8).map(lambda n: f"whole:{n}"),
                 st.sampled_from(["mig:1g.10gb", "mig:3g.40gb"]),
                 st.integers(1, 999).map(lambda m: f"milli:{m}"))
_record = st.builds(
    TraceRecord, id=_ids,
    arrival_s=st.floats(0, 1e7, allow_nan=False), duration_s=st.floats(0.5, 1e6),
    modality=st.sampled_from(MODALITIES), kind=st.sampled_from(("service", "training", "batch")),
    model=st.text("abcXYZ._-", max_size=6), gpu=_gpu, gpu_memory_mib=st.integers(0, 81920),
    cpu_milli=st.integers(0, 64000), memory_mib=st.integers(0, 10**6),
    priority=st.integers(-1000, 1000), slo_ms=st.none() | st.floats(0, 1e5))


@settings(max_examples=60, deadline=None)
@given(records=st.lists(_record, max_size=6, unique_by=lambda r: r.id),
       ext=st.sampled_from([".csv", ".jsonl"]))
def test_records_round_trip_through_csv_and_jsonl(records: list[TraceRecord], ext: str,
                                                  tmp_path_factory: pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("rt") / f"trace{ext}"
    write_records(path, records)
    assert list(load_records(path).rows) == records


GOOD = "r1,0,10,image,training,resnet,,1,,,whole:1,,,,,,"


@pytest.mark.parametrize(("row", "where"), [
    # arrival_s is column 2; "x" is not a number
    ("r1,x,10,image,training,,,1,,,whole:1,,,,,,", ":2:2: field 'arrival_s'"),
    # duration 0 (column 3) cannot run
    ("r1,0,0,image,training,,,1,,,whole:1,,,,,,", ":2:3: field 'duration_s'"),
    ("r1,0,10,smell,training,,,1,,,whole:1,,,,,,", ":2:4: field 'modality'"),
    ("r1,0,10,image,nap,,,1,,,whole:1,,,,,,", ":2:5: field 'kind'"),
    ("r1,0,10,image,training,,,1,,,mig:9g.99gb,,,,,,", ":2:11: field 'gpu'"),
    ("r1,0,10,image,training,,,1,,,milli:1000,,,,,,", ":2:11: field 'gpu'"),
    ("r1,0,10,image,request,,,1,,,milli:250,,,,,,", ":2:6: field 'model'"),
    ("r1,0,10,image,training,,,0,,,whole:1,,,,,,", ":2:8: field 'gang_size'"),
    ("r1,0,10,image,training", ":2:6: field '(row)'"),  # short row: first missing column
])
def test_bad_csv_row_names_file_line_column(tmp_path: Path, row: str, where: str) -> None:
    path = tmp_path / "t.csv"
    path.write_text(f"{HEADER}\n{row}\n", encoding="utf-8")
    with pytest.raises(SchemaError) as err:
        load_records(path)
    assert str(err.value).startswith(f"{path}{where}")


def test_bad_jsonl_line_names_column_of_the_key(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    good = '{"id":"a","arrival_s":0,"duration_s":5,"modality":"text","kind":"batch"}'
    bad = '{"id":"b","arrival_s":0,"duration_s":5,"modality":"text","kind":"batch","gpu":"x"}'
    path.write_text(f"{good}\n{bad}\n{{oops\n", encoding="utf-8")
    col = bad.index('"gpu"') + 1
    with pytest.raises(SchemaError) as err:
        load_records(path)
    assert str(err.value).startswith(f"{path}:2:{col}: field 'gpu'")
    report = load_records(path, lenient=True)
    assert [r.id for r in report.rows] == ["a"]
    assert report.skipped == 2  # the bad gpu and the broken JSON on line 3
    assert report.first_errors[1].startswith(f"{path}:3:2: field '(json)'")


def test_links_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(f"{HEADER}\nr1,0,10,text,pipeline_stage,,,1,p,ghost,,,,,,,\n",
                    encoding="utf-8")
    with pytest.raises(SchemaError, match="unknown stage id 'ghost'"):
        load_records(path)


def test_tiresias_conversion_replays_as_the_loader_does() -> None:
    records = from_tiresias(TIRESIAS).rows
    assert {r.kind for r in records} == {"training"} and {r.modality for r in records} == {"image"}
    via_schema = {j.uid: (j.replicas, j.min_member, j.task.gpu, j.arrival, j.duration)
                  for j in workload_from_records(records, "t").jobs}
    direct = {j.uid: (j.replicas, j.min_member, j.task.gpu, j.arrival, j.duration)
              for j in tiresias(TIRESIAS).jobs}
    assert via_schema == direct  # same gangs, shapes and times, 60 jobs


def test_genai_conversion_keeps_finished_requests(tmp_path: Path) -> None:
    path = tmp_path / "g.csv"
    path.write_text(
        "gmt_create,predict_type,predict_status,exec_time_seconds,groupId,prompt_length,"
        "negative_prompt_length,num_images_per_prompt,num_inference_steps,"
        "checkpoint_model_version_id,num_lora\n"
        "2024-11-15 16:57:50,TXT_2_IMG,SUCCEED,32.0,G0,63.0,26.0,1.0,30.0,M0000,0\n"
        "2024-11-15 16:58:00,TXT_2_IMG,PENDING,0,G0,63.0,26.0,1.0,30.0,M0000,0\n"
        "2024-11-15 16:58:10,IMG_2_IMG,FAILED,0,G0,63.0,26.0,4.0,30.0,M0001,0\n", encoding="utf-8")
    rows = from_genai(path).rows
    # PENDING dropped; 0 s becomes 1 s; 4 images -> half a GPU
    assert [(r.model, r.arrival_s, r.duration_s, r.gpu) for r in rows] == [
        ("M0000", 0.0, 32.0, "milli:250"), ("M0001", 20.0, 1.0, "milli:500")]
    assert all(r.kind == "request" and r.modality == "image" for r in rows)
    assert set(KINDS) >= {r.kind for r in rows}
