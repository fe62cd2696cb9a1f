"""The CLI's bad-input contract, checked in one place: exit status 2 and one line on stderr."""

from __future__ import annotations

from typer.testing import CliRunner

from cli.main import app

runner = CliRunner()


def one_line_error(args: list[str]) -> str:
    """Run `tessera <args>`: it must exit 2 with exactly one line on stderr, which is returned."""
    r = runner.invoke(app, args)
    assert r.exit_code == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    return lines[0]
