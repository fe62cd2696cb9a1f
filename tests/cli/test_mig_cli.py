"""`tessera mig profiles|layouts`: JSON shapes from DESIGN.md, tables, exit-2 errors."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cli.main import app
from tests.cli.one_line import one_line_error

runner = CliRunner()


def test_profiles_json_shape() -> None:
    r = runner.invoke(app, ["mig", "profiles", "--gpu", "NVIDIA H100 80GB HBM3", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert (doc["gpu"], doc["memory_slices"], doc["compute_slices"]) == ("H100-80GB", 8, 7)
    three = next(p for p in doc["profiles"] if p["name"] == "3g.40gb")
    assert three == {"name": "3g.40gb", "id": 9, "compute_slices": 3, "memory_slices": 4,
                     "max_count": 2, "placements": [0, 4], "memory_mib": 40448,
                     "media_extension": False}


def test_profiles_table_for_a100_40gb_shows_the_two_slice_1g_10gb() -> None:
    r = runner.invoke(app, ["mig", "profiles", "--gpu", "A100-40GB"])
    assert r.exit_code == 0
    row = next(line for line in r.stdout.splitlines() if line.startswith("1g.10gb "))
    # name, ID 15, compute 1, memory 2, max 4, starts 0,2,4,6
    assert row.split()[:6] == ["1g.10gb", "15", "1", "2", "4", "0,2,4,6"]


@pytest.mark.parametrize(("args", "count"), [([], 2319), (["--maximal"], 239)])
def test_layouts_json_counts(args: list[str], count: int) -> None:
    r = runner.invoke(app, ["mig", "layouts", "--gpu", "H100-80GB", "--json", *args])
    assert r.exit_code == 0
    doc = json.loads(r.stdout)
    assert doc["gpu"] == "H100-80GB" and len(doc["layouts"]) == doc["count"] == count
    assert [{"profile": "4g.40gb", "start": 0}, {"profile": "3g.40gb", "start": 4}] in \
        doc["layouts"]


def test_layouts_table_draws_the_slices() -> None:
    r = runner.invoke(app, ["mig", "layouts", "--gpu", "A30-24GB", "--maximal"])
    assert r.exit_code == 0
    assert "[2g  2g  2g  2g ]  2g.12gb@0 + 2g.12gb@2" in r.stdout
    assert r.stdout.strip().endswith("17 maximal layouts on A30-24GB")


@pytest.mark.parametrize("sub", ["profiles", "layouts"])
def test_unknown_model_exits_2_naming_alternatives(sub: str) -> None:
    line = one_line_error(["mig", sub, "--gpu", "Tesla V100"])
    assert line.startswith("error:") and "'Tesla V100'" in line and "H100-80GB" in line
