"""The `fanout` command: the local runtime and the operations commands (never imported by Lambda code).

Conventions: `-h` is `--help` on every command, `fanout --version`, typer's shell completion
(`--install-completion`), and every failure is one line on stderr, `error: <what failed>, <what to do>`,
with exit status 2 for bad usage and 1 for an operation that could not complete.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated, Any

import typer
from typer._click import exceptions as click_errors  # typer vendors click: these, not click's, are raised
from typer.core import TyperGroup

from fanout.local.cli import local_app
from fanout.ops.cli import register_ops_commands

HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}  # inherited by every subcommand's context


class OneLineErrors(TyperGroup):
    """Click's usage errors as the rest of the CLI reports failures: one line, exit 2 (not a usage box)."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        def run(standalone: bool) -> Any:
            return super(OneLineErrors, self).main(
                args, prog_name, complete_var, standalone, windows_expand_args, **extra
            )

        if not standalone_mode:
            return run(False)
        try:
            code = run(False)
        except click_errors.UsageError as exc:
            if exc.__class__.__name__ == "NoArgsIsHelpError":  # bare `fanout`: the help, as asked
                typer.echo(exc.ctx.get_help() if exc.ctx else exc.format_message())
                sys.exit(0)
            where = f" (see `{exc.ctx.command_path} -h`)" if exc.ctx else ""
            typer.echo(f"error: {_one_line(exc.format_message())}{where}", err=True)
            sys.exit(exc.exit_code)
        except click_errors.ClickException as exc:
            typer.echo(f"error: {_one_line(exc.format_message())}", err=True)
            sys.exit(exc.exit_code)
        except typer.Abort:
            typer.echo("error: aborted", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def package_version() -> str:
    try:
        return version("fanout")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "0+unknown"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"fanout {package_version()}")
        raise typer.Exit()


app = typer.Typer(
    name="fanout",
    cls=OneLineErrors,
    help="Notification fan-out: run the pipeline locally, inspect and operate a deployed one.",
    no_args_is_help=True,
    context_settings=HELP_OPTIONS,
)


@app.callback()
def fanout(
    show_version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Notification fan-out: run the pipeline locally, inspect and operate a deployed one."""


app.add_typer(local_app, name="local")
register_ops_commands(app)

if __name__ == "__main__":  # pragma: no cover
    app()
