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
