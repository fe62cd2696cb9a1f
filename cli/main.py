"""The `tessera` command line: one Typer app, each command group registered from its own module.

A group is added here only once it really works (no placeholder commands).
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="tessera",
    help="GPU-aware kube-scheduler extender, MIG packing engine and trace-driven simulator.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Registration: one line per command group, in the order of the public surface in DESIGN.md.
# (Each module exposes `register(app)`.)
_GROUPS: list[str] = [
    "dev_cluster", "agent", "serve", "mig", "plan", "explain", "simulate", "replay", "serving",
    "trace", "twin", "capacity",
]


def _register_all() -> None:
    import importlib

    for name in _GROUPS:
        importlib.import_module(f"cli.{name}").register(app)


_register_all()

if __name__ == "__main__":  # pragma: no cover
    app()
