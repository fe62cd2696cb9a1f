"""`tessera trace convert|check`: the multimodal trace schema (docs/trace-schema.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.errors import BadInput, exits_2_on_bad_input


def _warn_skipped(path: Path, skipped: int, first: tuple[str, ...]) -> None:
    if skipped:
        typer.echo(f"warning: skipped {skipped} invalid rows in {path}"
                   + (f" (first: {first[0]})" if first else ""), err=True)


def _check_out(out: Path) -> None:
    """Before the work: the output's folder must exist and the path must not be a folder."""
    if out.is_dir():
        raise BadInput(f"--out {out}: is a directory; give a file name (.jsonl or .csv)")
    if not out.parent.is_dir():
        raise BadInput(f"--out {out}: {out.parent} is not an existing folder")


def register(app: typer.Typer) -> None:
    trace = typer.Typer(help="Multimodal trace schema: convert and check.", no_args_is_help=True)
    app.add_typer(trace, name="trace")

    @trace.command("convert")
    @exits_2_on_bad_input
    def convert_cmd(
        source: Annotated[Path, typer.Argument(help="input trace file")],
        out: Annotated[Path, typer.Option("--out", help="output: .jsonl, else CSV")],
        fmt: Annotated[str, typer.Option("--from", help="openb, tiresias or genai")],
        lenient: Annotated[bool, typer.Option("--lenient", help="skip and count bad rows")] = False,
    ) -> None:
        """Convert an openb, Tiresias or GenAI trace to the schema (CSV or JSONL)."""
        from simulator.workloads.convert import convert
        from simulator.workloads.schema import write_records

        _check_out(out)
        report = convert(fmt, source, lenient=lenient)
        _warn_skipped(source, report.skipped, report.first_errors)
        write_records(out, report.rows)
        typer.echo(f"wrote {len(report.rows)} records to {out}")

    @trace.command("generate")
    @exits_2_on_bad_input
    def generate_cmd(
        out: Annotated[Path, typer.Option("--out", help="output: .jsonl, else CSV")],
        params: Annotated[str, typer.Option("--params", help="e.g. seed=3,models=200,"
                                            "requests=5000 (docs/workload-generator.md)")] = "",
    ) -> None:
        """Write a synthetic multimodal day (seeded) in the schema."""
        from simulator.workloads.multimodal import generate, parse_params
        from simulator.workloads.schema import write_records

        _check_out(out)
        records = generate(parse_params(params))
        write_records(out, records)
        typer.echo(f"wrote {len(records)} records to {out}")

    @trace.command("check")
    @exits_2_on_bad_input
    def check_cmd(
        path: Annotated[Path, typer.Argument(help="schema trace, CSV or .jsonl")],
        lenient: Annotated[bool, typer.Option("--lenient", help="skip and count bad rows")] = False,
    ) -> None:
        """Validate a schema trace; prints record counts by kind and modality."""
        from simulator.workloads.schema import load_records

        report = load_records(path, lenient=lenient)
        _warn_skipped(path, report.skipped, report.first_errors)
        counts: dict[str, int] = {}
        for r in report.rows:
            key = f"{r.kind}/{r.modality}"
            counts[key] = counts.get(key, 0) + 1
        typer.echo(f"{len(report.rows)} valid records, {report.skipped} skipped")
        for key in sorted(counts):
            typer.echo(f"  {key}: {counts[key]}")
