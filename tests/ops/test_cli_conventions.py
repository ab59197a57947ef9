"""The `fanout` command's conventions, through the installed root app: --version, -h everywhere, shell
completion, `--channel` on every command, and every failure as one line with exit 2 (bad usage) or 1
(the operation could not complete)."""

from __future__ import annotations

from importlib.metadata import version

import pytest
from typer.testing import CliRunner

from fanout.cli.main import app

RUNNER = CliRunner()


def invoke(*args: str):
    return RUNNER.invoke(app, list(args), env={"COLUMNS": "200"})


def one_line_error(result, code: int, text: str) -> None:
    assert result.exit_code == code, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert text in lines[0]
    assert "Traceback" not in result.output


def test_version() -> None:
    result = invoke("--version")
    assert (result.exit_code, result.stdout.strip()) == (0, f"fanout {version('fanout')}")


@pytest.mark.parametrize(
    "command",
    [[], ["status"], ["dlq"], ["dlq", "peek"], ["dlq", "redrive"], ["channel"], ["channel", "pause"],
     ["channel", "resume"], ["local"], ["local", "run"]],
)  # fmt: skip
def test_dash_h_is_help_everywhere(command: list[str]) -> None:
    result = invoke(*command, "-h")
    assert result.exit_code == 0, result.output
    assert "Usage: fanout" in result.stdout
    assert "-h" in result.stdout


def test_shell_completion_is_typers_own() -> None:
    assert "--install-completion" in invoke("-h").stdout
    script = invoke("--show-completion", "bash")
    assert script.exit_code == 0, script.output
    assert "_FANOUT_COMPLETE" in script.stdout


@pytest.mark.parametrize(
    "command",
    [["status"], ["dlq", "peek"], ["dlq", "redrive"], ["channel", "pause"], ["channel", "resume"]],
)
def test_channel_is_spelled_the_same_on_every_command(command: list[str]) -> None:
    result = invoke(*command, "--channel", "teams", "--stack", "prod")
    one_line_error(result, 2, "unknown channel 'teams'; channels: slack, github")


def test_channel_pause_keeps_its_positional_form_and_wants_one_channel() -> None:
    one_line_error(invoke("channel", "pause", "teams", "--stack", "prod"), 2, "unknown channel 'teams'")
    one_line_error(invoke("channel", "pause", "slack", "-c", "github", "--stack", "p"), 2, "give one")
    one_line_error(invoke("channel", "resume", "--stack", "prod"), 2, "which channel?")


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["dlq", "peek", "--queue-prefix", "x"], "Missing option '--channel' / '-c'. (see `fanout dlq peek -h`)"),
        (["dlq", "peek", "-c", "slack", "--limit", "0", "--queue-prefix", "x"], "Invalid value for '--limit'"),
        (["dlq", "redrive", "-c", "slack", "--engine", "fast", "--queue-prefix", "x"], "Invalid value for '--engine'"),
        (["pause"], "No such command 'pause'. (see `fanout -h`)"),
        (["status", "--stack", "a", "--queue-prefix", "b"], "give exactly one of --stack NAME"),
    ],
)  # fmt: skip
def test_bad_usage_is_one_line_and_exit_2(args: list[str], text: str) -> None:
    one_line_error(invoke(*args), 2, text)


def test_an_operation_that_cannot_complete_is_one_line_and_exit_1(moto_endpoint, unique_name) -> None:
    missing = unique_name("gone")
    result = invoke("status", "--stack", missing, "--endpoint-url", moto_endpoint)
    one_line_error(result, 1, f"stack '{missing}' not found (check --stack and --region)")
    unreachable = invoke("status", "--queue-prefix", "x", "--endpoint-url", "http://127.0.0.1:9")
    one_line_error(unreachable, 1, "cannot reach http://127.0.0.1:9")
