"""Schema-driven fuzzing (schemathesis) of the extender's published OpenAPI document, in process.

Every operation of /openapi.json is fuzzed with schemathesis' generated cases (valid and
invalid bodies, edge values, unexpected methods). Each reply must be below 500, a refusal one
JSON line (`tests/fuzz/checks.py`), and a 200 must match its documented schema and content
type. CI runs a few hundred cases; TESSERA_LONG=1 runs >= 10,000 (figures in
benchmarks/RESULTS.md; TESSERA_FUZZ_REPORT=FILE writes them as JSON).
"""

from __future__ import annotations

import json
import os

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import content_type_conformance, response_schema_conformance

from tests.fuzz.checks import assert_sound
from tests.fuzz.rig import LONG, SCHEMA_EXAMPLES, TALLY, build_app, replay_rss, write_report

APP, STORE = build_app()
SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", APP)


@SCHEMA.parametrize()
@settings(
    max_examples=SCHEMA_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_every_operation_answers_soundly(case: schemathesis.Case) -> None:
    response = case.call()
    TALLY.count(case.operation.path, response.status_code)
    if case.method == "POST" and isinstance(case.body, dict | list):
        TALLY.keep(case.operation.path, json.dumps(case.body).encode())
    assert_sound(response.status_code, response.content, case.body)
    if response.status_code == 200 and case.operation.path != "/metrics":
        case.validate_response(
            response, checks=[response_schema_conformance, content_type_conformance]
        )


def test_tally_zero_5xx_and_memory_back() -> None:
    """Runs after the operations above (pytest keeps a module's order)."""
    report = TALLY.report()
    assert report["5xx"] == 0
    assert report["cases"] >= (10_000 if LONG else 200)
    # Bounded memory, the app's own: the fuzzer keeps every generated case for shrinking, so the
    # process RSS over the run measures it too (both figures go in the report). Replaying the
    # last requests through the app must leave RSS within 10 % of where it was when warm.
    warm, last = replay_rss(APP, TALLY.sample, passes=12 if LONG else 3)
    report.update(replay_requests=len(TALLY.sample) * (12 if LONG else 3),
                  replay_rss_warm_mib=round(warm / 2**20, 1),
                  replay_rss_last_mib=round(last / 2**20, 1))  # fmt: skip
    write_report(os.environ.get("TESSERA_FUZZ_REPORT"), report)
    assert last <= warm * 1.10, report
