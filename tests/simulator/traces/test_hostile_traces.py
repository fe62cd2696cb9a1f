"""Trace files that lie (round 10): each is refused with one `TraceError` naming file, line and
field, through the real loaders, never a traceback or a replay that never ends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulator.traces.errors import TraceError
from simulator.traces.tiresias import load_tiresias_jobs
from simulator.workloads.schema import load_records

BASE = {"id": "a", "arrival_s": 0, "duration_s": 10, "modality": "text", "kind": "training",
        "gpu": "whole:1"}  # fmt: skip
HEADER = "id,arrival_s,duration_s,modality,kind,gpu\n"


@pytest.mark.parametrize(
    ("line", "named"),
    [
        ("[" * 100_000 + "]" * 100_000, "'(json)'"),  # was RecursionError from json.loads
        (json.dumps({**BASE, "gang_id": "g", "gang_size": 1e300}), "'gang_size'"),  # stalled
        (json.dumps({**BASE, "gpu": "whole:99999999999999999999"}), "'gpu'"),  # stalled
        (json.dumps({**BASE, "gpu": "whole:\u00b2"}), "'gpu'"),
        (json.dumps({**BASE, "cpu_milli": 1e300}), "'cpu_milli'"),  # accepted, never placed
        (json.dumps({**BASE, "memory_mib": 9e18}), "'memory_mib'"),
        (json.dumps({**BASE, "priority": 1e300}), "'priority'"),
        (json.dumps({**BASE, "gpu": "milli:500", "gpu_memory_mib": 1e300}), "'gpu_memory_mib'"),
    ],
    ids=["deep", "gang", "whole", "unicode", "cpu", "memory", "priority", "gpu-memory"],
)
def test_a_hostile_jsonl_record_is_one_error(tmp_path: Path, line: str, named: str) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(line + "\n")
    with pytest.raises(TraceError) as err:
        load_records(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}:1:") and named in msg and "\n" not in msg


def test_a_csv_field_past_the_csv_modules_limit_is_one_error(tmp_path: Path) -> None:
    """Was `_csv.Error: field larger than field limit (131072)`, a traceback, in both readers."""
    schema = tmp_path / "t.csv"
    schema.write_text(HEADER + "a,0,10,text,training," + "x" * 200_000 + "\n")
    with pytest.raises(TraceError, match=r"t\.csv:2: unreadable CSV row \(field larger"):
        load_records(schema)
    tiresias = tmp_path / "tiresias.csv"
    tiresias.write_text("job_id,num_gpu,submit_time,iterations,model_name,duration,interval\n"
                        "0,1,0,1," + "x" * 200_000 + ",10,1\n")  # fmt: skip
    with pytest.raises(TraceError, match=r"tiresias\.csv:2: unreadable CSV row"):
        load_tiresias_jobs(tiresias)


TIRESIAS_HEADER = "job_id,num_gpu,submit_time,iterations,model_name,duration,interval"


def test_a_byte_order_mark_and_crlf_are_read(tmp_path: Path) -> None:
    """A spreadsheet's UTF-8 CSV starts with a BOM: the header was unknown ('\\ufeffjob_id')."""
    from simulator.workloads.traces import load

    for name, head in (("t.csv", TIRESIAS_HEADER), ("s.csv", HEADER.strip())):
        row = "0,1,0,1,vgg,50,1" if name == "t.csv" else "a,0,10,text,training,whole:1"
        (tmp_path / name).write_bytes(("\ufeff" + head + "\r\n" + row + "\r\n").encode())
        assert len(load(str(tmp_path / name)).jobs) == 1


@pytest.mark.parametrize("suffix", ["t.csv", "s.csv", "s.jsonl"])
def test_bytes_that_are_not_utf8_name_the_file_and_line(tmp_path: Path, suffix: str) -> None:
    """Was "error: 'utf-8' codec can't decode byte 0xe9 in position 48", naming no file."""
    from simulator.workloads.traces import load

    first = {"t.csv": TIRESIAS_HEADER, "s.csv": HEADER.strip(), "s.jsonl": json.dumps(BASE)}
    bad = {"t.csv": b"0,1,0,1,vgg\xe9,50,1", "s.csv": b"b,0,10,text\xe9,training,",
           "s.jsonl": b'{"id": "caf\xe9"}'}  # fmt: skip
    path = tmp_path / suffix
    path.write_bytes(first[suffix].encode() + b"\n" + bad[suffix] + b"\n")
    with pytest.raises(TraceError, match=rf"^{path}:2: not UTF-8 text \(byte 0xe9\)"):
        load(str(path))


@pytest.mark.parametrize(
    ("line", "named"),
    [
        (f"{TIRESIAS_HEADER}\n0,1,1e300,1,vgg,50,1\n", "'submit_time'"),
        (f"{TIRESIAS_HEADER}\n0,1,0,1,vgg,1e17,1\n", "'duration'"),
        (HEADER + "a,1e300,10,text,training,whole:1\n", "'arrival_s'"),
        (HEADER + "a,0,1e300,text,training,whole:1\n", "'duration_s'"),
    ],
)
def test_times_past_the_float_clocks_resolution_are_refused(
    tmp_path: Path, line: str, named: str
) -> None:
    """Accepted: at 1e300 s a 50 s job's end time rounded to its start (JCT 0, silently); two
    such times summed to infinity."""
    from simulator.workloads.traces import load

    path = tmp_path / "t.csv"
    path.write_text(line)
    with pytest.raises(TraceError, match=named):
        load(str(path))


@pytest.mark.parametrize(
    "text",
    [
        TIRESIAS_HEADER + "\n",
        HEADER,
        "",
    ],
)
def test_a_trace_without_jobs_is_refused(tmp_path: Path, text: str) -> None:
    """Replayed to a table of zeros (wait 0 s, JCT 0 s) that measured nothing."""
    from simulator.workloads.traces import load

    path = tmp_path / ("t.jsonl" if not text else "t.csv")
    path.write_text(text)
    with pytest.raises(ValueError, match="no jobs to replay"):
        load(str(path))


def test_a_jsonl_string_with_a_unicode_line_separator_is_one_record(tmp_path: Path) -> None:
    """`splitlines()` cut the line inside the string at U+2028 (valid unescaped JSON)."""
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps({**BASE, "model": "a\u2028b\x85c"}, ensure_ascii=False) + "\n")
    assert load_records(path).rows[0].model == "a\u2028b\x85c"


def test_a_repeated_job_id_is_named_at_its_line(tmp_path: Path) -> None:
    """Was "workload t.csv: duplicate job uids" after every row was loaded (24 s and 875 MB
    for 10^6 identical Tiresias lines; 93 s for openb), naming no line."""
    from simulator.workloads.traces import load

    path = tmp_path / "t.csv"
    path.write_text(TIRESIAS_HEADER + "\n" + "0,1,0,1,vgg,50,1\n" * 3)
    with pytest.raises(TraceError, match=r"t\.csv:3: column 'job_id': '0' repeats line 2"):
        load(str(path))
    pods = tmp_path / "pods.csv"
    pods.write_text(
        "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,"
        "deletion_time,scheduled_time\n" + "p,1000,1024,1,500,,LS,Running,0,100,1\n" * 3
    )
    nodes = tmp_path / "nodes.csv"
    nodes.write_text("sn,cpu_milli,memory_mib,gpu,model\nn1,96000,786432,8,V100M32\n")
    with pytest.raises(TraceError, match=r"pods\.csv:3: column 'name': 'p' repeats line 2"):
        load(str(pods), str(nodes))


DLRM_HEADER = (
    "instance_sn,role,app_name,cpu_request,cpu_limit,gpu_request,gpu_limit,rdma_request,"
    "rdma_limit,memory_request,memory_limit,disk_request,disk_limit,max_instance_per_node,"
    "creation_time,scheduled_time,deletion_time\n"
)
GENAI_HEADER = (
    "gmt_create,predict_type,predict_status,exec_time_seconds,groupId,prompt_length,"
    "negative_prompt_length,num_images_per_prompt,num_inference_steps,"
    "checkpoint_model_version_id,num_lora\n"
)


@pytest.mark.parametrize(
    ("text", "named"),
    [  # gpu: never ended; cpu, memory: OverflowError tracebacks; exec: JCT 1e300, serve hung
        (
            DLRM_HEADER + "i0,HN,a,12,12,99999999999,1,25,25,120,120,640,800,8,0,1,100\n",
            "'gpu_request'",
        ),
        (
            DLRM_HEADER + "i0,HN,a,99999999999999,12,1,1,25,25,120,120,640,800,8,0,1,100\n",
            "'cpu_request'",
        ),
        (DLRM_HEADER + "i0,HN,a,12,12,1,1,25,25,1e300,120,640,800,8,0,1,100\n", "'memory_request'"),
        (
            GENAI_HEADER + "2024-11-15 16:57:50,TXT_2_IMG,SUCCEED,1e300,G0,63,26,1,30,M0,0\n",
            "'exec_time_seconds'",
        ),
        (HEADER.replace("gpu", "model,gpu") + "r,0,1e9,text,request,m,milli:250\n", "'duration_s'"),
    ],
    ids=["dlrm-gpu", "dlrm-cpu", "dlrm-memory", "genai-exec", "schema-request"],
)
def test_a_request_past_what_a_node_or_a_day_holds_is_refused(
    tmp_path: Path, text: str, named: str
) -> None:
    from simulator.workloads.traces import load

    path = tmp_path / "t.csv"
    path.write_text(text)
    with pytest.raises(TraceError, match=named) as err:
        load(str(path))
    assert str(err.value).startswith(f"{path}:2:")


def test_a_repeated_openb_node_name_is_refused_for_replay(tmp_path: Path) -> None:
    """Two nodes `n1` went into the replay's cluster as two nodes of one name: capacity counted
    both, while the driver looks nodes up by name (`_Run.model`): ambiguous, silently."""
    from simulator.workloads.traces import load

    pods = tmp_path / "pods.csv"
    pods.write_text(
        "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,"
        "deletion_time,scheduled_time\np,1000,1024,1,500,,LS,Running,0,100,1\n"
    )
    nodes = tmp_path / "nodes.csv"
    nodes.write_text("sn,cpu_milli,memory_mib,gpu,model\n" + "n1,96000,786432,8,V100M32\n" * 2)
    with pytest.raises(TraceError, match=r"nodes\.csv:3: column 'sn': 'n1' repeats line 2"):
        load(str(pods), str(nodes))
