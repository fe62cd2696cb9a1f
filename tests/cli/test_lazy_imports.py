"""Importing the CLI (what `tessera serve` starts with) does not load OR-Tools or pandas:
they load with the first gang or repartition planned (`packing.gang`, `packing.repartition`
resolve their planners on first use), about 60 MB of RSS a serving process may never need.
Nor the `kubernetes` client (about 12 MB): `serve` imports it only to serve a live cluster."""

from __future__ import annotations

import subprocess
import sys


def test_cli_import_leaves_ortools_pandas_and_kubernetes_unloaded() -> None:
    code = ("import sys, cli.main, cli.serve; "
            "print(sorted(m for m in ('ortools', 'pandas', 'kubernetes') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


def test_planners_still_resolve_on_first_use() -> None:
    code = ("import sys; from packing.gang import plan_gang; "
            "from packing.repartition import plan_repartition; "
            "print(plan_gang.__module__, plan_repartition.__module__, 'ortools' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["packing.gang.planner", "packing.repartition.planner", "True"]
