"""The commands through typer's CliRunner: output, exit codes and one-line errors."""

from __future__ import annotations

import json
import time

import pytest
import typer
from typer.testing import CliRunner

from fanout import registry
from fanout.ops.cli import register_ops_commands

from .conftest import depth, drain

ESM = "0f8fad5b-d9cb-469f-a165-70867728950e"
DLQ_ARN = "arn:aws:sqs:us-east-1:123456789012:prod-slack-dlq.fifo"
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:prod-slack.fifo"
DLQ_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/prod-slack-dlq.fifo"
QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/prod-slack.fifo"


def _one_line_error(result, code: int, text: str) -> None:
    assert result.exit_code == code, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr  # one line (a progress bar may precede it)
    assert text in errors[0]
    assert "Traceback" not in result.output


@pytest.fixture
def stubbed_stack(stubs):
    """A deployed stack named `prod`, seen only through Stubber: describe_stacks with the slack outputs."""

    def make() -> None:
        outputs = {
            registry.OUTPUT_QUEUE_URL: QUEUE_URL,
            registry.OUTPUT_QUEUE_ARN: QUEUE_ARN,
            registry.OUTPUT_DLQ_URL: DLQ_URL,
            registry.OUTPUT_DLQ_ARN: DLQ_ARN,
            registry.OUTPUT_EVENT_SOURCE_MAPPING_ID: ESM,
        }
        stubs("cloudformation").add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": "prod",
                        "CreationTime": "2026-11-01T00:00:00Z",
                        "StackStatus": "UPDATE_COMPLETE",
                        "Outputs": [
                            {"OutputKey": registry.output_key("slack", k), "OutputValue": v}
                            for k, v in outputs.items()
                        ],
                    }
                ]
            },
            {"StackName": "prod"},
        )

    return make


def test_status_json_for_a_local_run(ops_cli, local_run, dead_letter) -> None:
    run = local_run()
    dead_letter(run.dlq_urls["github"], task_id="t1", channel="github")

    result = ops_cli()("status", "--queue-prefix", run.prefix, "--json")

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["source"], report["name"]) == ("prefix", run.prefix)
    assert report["channels"]["github"]["dlq_depth"] == 1
    assert report["channels"]["slack"]["queue_depth"] == 0
    assert report["channels"]["slack"]["event_source_state"] is None


def test_status_table_shows_dashes_for_a_local_run(ops_cli, local_run) -> None:
    run = local_run()

    result = ops_cli()("status", "--queue-prefix", run.prefix, "--channel", "slack")

    assert result.exit_code == 0, result.output
    assert "slack" in result.stdout
    assert "github" not in result.stdout
    slack_row = next(line for line in result.stdout.splitlines() if "slack" in line and "│" in line)
    assert slack_row.count(" - ") >= 3  # event source, batch size, max concurrency


@pytest.mark.parametrize("selector", [[], ["--stack", "s", "--queue-prefix", "p"]])
def test_exactly_one_selector(ops_cli, selector: list[str]) -> None:
    _one_line_error(ops_cli()("status", *selector), 2, "give exactly one of --stack NAME")


def test_unknown_channel(ops_cli, local_run) -> None:
    result = ops_cli()("dlq", "peek", "--channel", "teams", "--queue-prefix", local_run().prefix)
    _one_line_error(result, 2, "unknown channel 'teams'; channels: slack, github")


def test_missing_stack_and_missing_queue(ops_cli, unique_name) -> None:
    cli = ops_cli()
    _one_line_error(cli("status", "--stack", unique_name("nope")), 1, "not found")
    _one_line_error(
        cli("status", "--queue-prefix", unique_name("nope")), 1, "not found: is a run with queue prefix"
    )


def test_no_credentials(monkeypatch, tmp_path) -> None:
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    app = typer.Typer()
    register_ops_commands(app)  # the real session factory

    result = CliRunner().invoke(app, ["status", "--stack", "prod", "--region", "eu-west-1"])

    _one_line_error(result, 1, "no AWS credentials found")


def test_a_local_endpoint_needs_no_credentials(monkeypatch, tmp_path, moto_endpoint, local_run) -> None:
    run = local_run()
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    app = typer.Typer()
    register_ops_commands(app)

    result = CliRunner().invoke(
        app,
        ["status", "--endpoint-url", moto_endpoint, "--queue-prefix", run.prefix, "--json"],
    )

    assert result.exit_code == 0, result.output
    assert set(json.loads(result.stdout)["channels"]) == set(registry.CHANNELS)


def test_peek_prints_the_diagnosis_and_leaves_the_messages(
    ops_cli, aws_client, local_run, dead_letter
) -> None:
    run = local_run()
    dead_letter(run.dlq_urls["slack"], task_id="task-42", reason="terminal:channel_not_found", attempts=1)
    cli = ops_cli()

    table = cli("dlq", "peek", "--channel", "slack", "--queue-prefix", run.prefix)
    as_json = cli("dlq", "peek", "--channel", "slack", "--queue-prefix", run.prefix, "--json", "--limit", "5")

    assert table.exit_code == 0, table.output
    assert "task-42" in table.stdout
    assert "terminal:channel_not_found" in table.stdout
    (message,) = json.loads(as_json.stdout)
    assert (message["task_id"], message["reason"], message["attempts"]) == (
        "task-42",
        "terminal:channel_not_found",
        1,
    )
    assert depth(aws_client("sqs"), run.dlq_urls["slack"]) == (1, 0)


def test_peek_and_redrive_of_an_empty_dlq_succeed(ops_cli, local_run) -> None:
    """An empty DLQ is good news: exit 0, `--json` prints [] (so `peek --json | jq` and `|| page` work)."""
    run, cli = local_run(), ops_cli()
    common = ["-c", "github", "--queue-prefix", run.prefix]

    as_json = cli("dlq", "peek", *common, "--json")
    table = cli("dlq", "peek", *common)
    redrive = cli("dlq", "redrive", *common)

    assert (as_json.exit_code, json.loads(as_json.stdout), as_json.stderr) == (0, [], "")
    assert table.exit_code == 0, table.output
    assert "is empty: nothing is dead-lettered" in table.stdout
    assert redrive.exit_code == 0, redrive.output
    assert "is empty: nothing is dead-lettered" in redrive.stdout


def test_client_redrive_dry_run_then_for_real(ops_cli, aws_client, local_run, dead_letter) -> None:
    sqs, run, cli = aws_client("sqs"), local_run(), ops_cli()
    dlq, queue = run.dlq_urls["slack"], run.queue_urls["slack"]
    dead_letter(dlq, task_id="t-rate", reason="retry_budget_exhausted")
    dead_letter(dlq, task_id="t-gone", reason="terminal:channel_not_found")
    common = ["dlq", "redrive", "-c", "slack", "--queue-prefix", run.prefix, "--engine", "client"]

    dry = cli(*common, "--reason", "budget", "--older-than", "0s", "--dry-run")

    assert dry.exit_code == 0, dry.output
    assert "t-rate" in dry.stdout
    assert "t-gone" not in dry.stdout
    assert "dry run: 1 of 2 examined messages would move" in dry.stdout
    assert depth(sqs, queue) == (0, 0)
    assert depth(sqs, dlq) == (2, 0)

    real = cli(*common, "--reason", "budget")

    assert real.exit_code == 0, real.output
    assert "moved 1 of 1 matching messages" in real.stdout
    none = cli(*common, "--task-id", "t-nobody", "--json")
    assert none.exit_code == 0, none.output
    assert json.loads(none.stdout) | {"messages": []} == {
        "dry_run": False,
        "examined": 0,  # the other task is never touched: --task-id rules it out
        "matched": 0,
        "moved": 0,
        "stayed": 0,
        "malformed_kept": 0,
        "duplicates_removed": 0,
        "failed": [],
        "delete_failed": [],
        "unexamined": 0,
        "interrupted": False,
        "messages": [],
    }
    assert [m["Attributes"]["MessageGroupId"] for m in drain(sqs, queue)] == ["t-rate"]
    assert depth(sqs, dlq) == (1, 0)


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (
            ["--engine", "native", "--task-id", "t1"],
            "filters, --dry-run, --limit and --json need --engine client",
        ),
        (["--engine", "native", "--dry-run"], "filters, --dry-run, --limit and --json need --engine client"),
        (["--engine", "client", "--rate", "5"], "--rate and --cancel apply to --engine native"),
        (["--older-than", "soon"], "bad duration 'soon'"),
        (["--engine", "native", "--rate", "900", "--include-malformed"], "--rate must be 1..500"),
        (["--engine", "native"], "--engine native moves every message, `malformed` ones too"),
    ],
)
def test_redrive_option_conflicts(ops_cli, args: list[str], text: str) -> None:
    result = ops_cli()("dlq", "redrive", "-c", "slack", "--queue-prefix", "fanout-local", *args)
    _one_line_error(result, 2, text)


def test_native_redrive_with_progress_until_completed(ops_cli, stubs, stubbed_stack) -> None:
    stubbed_stack()
    sqs = stubs("sqs")
    sqs.add_response("get_queue_attributes", {"Attributes": {"ApproximateNumberOfMessages": "4"}})
    sqs.add_response(
        "start_message_move_task",
        {"TaskHandle": "h1"},
        {"SourceArn": DLQ_ARN, "DestinationArn": QUEUE_ARN, "MaxNumberOfMessagesPerSecond": 10},
    )
    for status, moved in (("RUNNING", 1), ("COMPLETED", 4)):
        sqs.add_response(
            "list_message_move_tasks",
            {
                "Results": [
                    {
                        "Status": status,
                        "ApproximateNumberOfMessagesMoved": moved,
                        "ApproximateNumberOfMessagesToMove": 4,
                        "StartedTimestamp": int(time.time() * 1000),
                        **({"TaskHandle": "h1"} if status == "RUNNING" else {}),
                    }
                ]
            },
            {"SourceArn": DLQ_ARN, "MaxResults": 1},
        )
    cli = ops_cli(clients=stubs.clients)

    result = cli(
        "dlq",
        "redrive",
        "-c",
        "slack",
        "--stack",
        "prod",
        "--engine",
        "native",
        "--rate",
        "10",
        "--include-malformed",
    )

    assert result.exit_code == 0, result.output
    assert "moved ~4 messages from prod-slack-dlq.fifo to prod-slack.fifo" in result.stdout
    assert cli.sleeps == [2.0]
    stubs.verify()


def test_native_redrive_cancel(ops_cli, stubs, stubbed_stack) -> None:
    stubbed_stack()
    sqs = stubs("sqs")
    sqs.add_response(
        "list_message_move_tasks",
        {
            "Results": [
                {
                    "Status": "RUNNING",
                    "TaskHandle": "h1",
                    "ApproximateNumberOfMessagesMoved": 2,
                }
            ]
        },
        {"SourceArn": DLQ_ARN, "MaxResults": 1},
    )
    sqs.add_response(
        "cancel_message_move_task", {"ApproximateNumberOfMessagesMoved": 2}, {"TaskHandle": "h1"}
    )

    result = ops_cli(clients=stubs.clients)(
        "dlq", "redrive", "-c", "slack", "--stack", "prod", "--engine", "native", "--cancel"
    )

    assert result.exit_code == 0, result.output
    assert "cancelled the move task on prod-slack-dlq.fifo after ~2 messages" in result.stdout
    stubs.verify()


def test_native_redrive_that_fails_exits_1(ops_cli, stubs, stubbed_stack) -> None:
    stubbed_stack()
    sqs = stubs("sqs")
    sqs.add_response("get_queue_attributes", {"Attributes": {"ApproximateNumberOfMessages": "4"}})
    sqs.add_response("start_message_move_task", {"TaskHandle": "h1"})
    sqs.add_response(
        "list_message_move_tasks",
        {
            "Results": [
                {
                    "Status": "FAILED",
                    "ApproximateNumberOfMessagesMoved": 1,
                    "FailureReason": "KMS.AccessDenied",
                    "StartedTimestamp": int(time.time() * 1000),
                }
            ]
        },
    )

    result = ops_cli(clients=stubs.clients)(
        "dlq", "redrive", "-c", "slack", "--stack", "prod", "--engine", "native", "--include-malformed"
    )

    _one_line_error(result, 1, "move task FAILED after ~1 messages: KMS.AccessDenied")


def test_pause_and_resume_a_deployed_channel(ops_cli, stubs, stubbed_stack) -> None:
    lam = stubs("lambda")
    for before, enabled, after in (("Enabled", False, "Disabling"), ("Disabled", True, "Enabling")):
        stubbed_stack()
        lam.add_response("get_event_source_mapping", {"UUID": ESM, "State": before}, {"UUID": ESM})
        lam.add_response(
            "update_event_source_mapping", {"UUID": ESM, "State": after}, {"UUID": ESM, "Enabled": enabled}
        )
    cli = ops_cli(clients=stubs.clients)

    paused = cli("channel", "pause", "slack", "--stack", "prod")
    resumed = cli("channel", "resume", "slack", "--stack", "prod")

    assert paused.exit_code == 0, paused.output
    assert resumed.exit_code == 0, resumed.output
    assert f"slack: event source {ESM} Enabled -> Disabling" in paused.stdout
    assert f"slack: event source {ESM} Disabled -> Enabling" in resumed.stdout
    stubs.verify()


@pytest.mark.parametrize("verb", ["pause", "resume"])
def test_pause_and_resume_need_a_stack(ops_cli, verb: str) -> None:
    result = ops_cli()("channel", verb, "slack", "--queue-prefix", "fanout-local")
    _one_line_error(result, 2, f"channel {verb} needs --stack")


def test_pause_of_an_unknown_channel(ops_cli, stubs) -> None:
    result = ops_cli(clients=stubs.clients)("channel", "pause", "teams", "--stack", "prod")
    _one_line_error(result, 2, "unknown channel 'teams'")
