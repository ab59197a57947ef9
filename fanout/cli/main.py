"""The `fanout` command: the local runtime and the operations commands (never imported by Lambda code)."""

from __future__ import annotations

import typer

from fanout.local.cli import local_app
from fanout.ops.cli import register_ops_commands

app = typer.Typer(
    name="fanout",
    help="Notification fan-out: run the pipeline locally, inspect and operate a deployed one.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(local_app, name="local")
register_ops_commands(app)

if __name__ == "__main__":  # pragma: no cover
    app()
