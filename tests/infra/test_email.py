"""The email channel in the stack: its own pipeline from the registry entry, least privilege for SES and
Cognito, its alarms, and the settings synth refuses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from consumers.email import config as email_config
from consumers.email import metrics as email_metrics
from fanout import registry
from fanout.registry import InvalidChannelSettings
from infra.settings import FanoutProps, cdk_json_context

from .app_process import run_app
from .conftest import EMAIL_SENDER, NAME_PREFIX, Synthesized, SynthFactory, actions_of, statements

pytestmark = pytest.mark.cdk
POOL_ID = "us-east-1_AbCdEf123"
CONFIGURATION_SET = "fanout-events"


@pytest.fixture(scope="module")
def full(synth: SynthFactory) -> Synthesized:
    return synth(
        {
            "fanout:email:from": EMAIL_SENDER,
            "fanout:email:configurationSet": CONFIGURATION_SET,
            "fanout:email:userPoolId": POOL_ID,
            "fanout:email:maxConcurrency": "3",
            "fanout:alarmEmail": "ops@example.com",
        }
    )


@pytest.fixture(scope="module")
def minimal(synth: SynthFactory) -> Synthesized:
    return synth({"fanout:email:from": EMAIL_SENDER}, nag=False)


def email_function(s: Synthesized) -> dict[str, Any]:
    [fn] = [
        v
        for v in s.of_type("AWS::Lambda::Function").values()
        if v["Properties"]["Handler"] == registry.EMAIL.handler
    ]
    return fn


def email_policy(s: Synthesized) -> list[dict[str, Any]]:
    role_id = email_function(s)["Properties"]["Role"]["Fn::GetAtt"][0]
    policies = {
        k: v for k, v in s.of_type("AWS::IAM::Policy").items() if {"Ref": role_id} in v["Properties"]["Roles"]
    }
    return statements(policies)


def arn_text(resource: Any) -> str:
    """An ARN built by format_arn, with its pseudo-parameter tokens shown as names."""
    if isinstance(resource, str):
        return resource
    parts = resource["Fn::Join"][1]
    return "".join(p if isinstance(p, str) else "<" + p["Ref"] + ">" for p in parts)


def grants(policy: list[dict[str, Any]], prefix: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for st in policy:
        for action in actions_of(st):
            if action.startswith(prefix):
                resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
                found.setdefault(action, []).extend(sorted(arn_text(r) for r in resources))
    return found


def test_ses_send_is_allowed_on_the_sender_identities_and_the_configuration_set_only(
    full: Synthesized,
) -> None:
    account = "<AWS::Partition>:ses:<AWS::Region>:<AWS::AccountId>"
    assert grants(email_policy(full), "ses:") == {
        "ses:SendEmail": sorted(
            [
                f"arn:{account}:identity/{EMAIL_SENDER}",
                f"arn:{account}:identity/notify.example.com",
                f"arn:{account}:configuration-set/{CONFIGURATION_SET}",
            ]
        ),
        "ses:GetAccount": ["*"],  # no resource-level permission exists for it
    }


def test_the_user_pool_is_readable_only_when_configured_and_only_that_pool(
    full: Synthesized, minimal: Synthesized
) -> None:
    assert grants(email_policy(full), "cognito-idp:") == {
        "cognito-idp:AdminGetUser": [
            f"arn:<AWS::Partition>:cognito-idp:<AWS::Region>:<AWS::AccountId>:userpool/{POOL_ID}"
        ]
    }
    assert grants(email_policy(minimal), "cognito-idp:") == {}
    assert grants(email_policy(minimal), "ses:")["ses:SendEmail"] == sorted(
        [
            f"arn:<AWS::Partition>:ses:<AWS::Region>:<AWS::AccountId>:identity/{EMAIL_SENDER}",
            "arn:<AWS::Partition>:ses:<AWS::Region>:<AWS::AccountId>:identity/notify.example.com",
        ]
    )


def test_no_other_function_may_send_email_or_read_users(full: Synthesized) -> None:
    email_role = email_function(full)["Properties"]["Role"]["Fn::GetAtt"][0]
    for policy in full.of_type("AWS::IAM::Policy").values():
        if {"Ref": email_role} in policy["Properties"]["Roles"]:
            continue
        for st in policy["Properties"]["PolicyDocument"]["Statement"]:
            assert not any(a.startswith(("ses:", "cognito-idp:")) for a in actions_of(st))


def test_the_consumer_gets_the_options_as_environment(full: Synthesized) -> None:
    env = email_function(full)["Properties"]["Environment"]["Variables"]
    assert env[email_config.ENV_FROM] == EMAIL_SENDER
    assert env[email_config.ENV_CONFIGURATION_SET] == CONFIGURATION_SET
    assert env[email_config.ENV_USER_POOL_ID] == POOL_ID
    assert (
        env[email_config.ENV_CONTAINERS] == "3"
    )  # the account's rate is shared by maxConcurrency containers
    assert env["FANOUT_CHANNEL"] == "email"
    loaded = email_config.load_email_config(
        {k: v for k, v in env.items() if isinstance(v, str)}, github_web_url=env["FANOUT_GITHUB_WEB_URL"]
    )
    assert (loaded.sender, loaded.configuration_set, loaded.user_pool_id, loaded.github_host) == (
        EMAIL_SENDER,
        CONFIGURATION_SET,
        POOL_ID,
        "github.com",  # the host of fanout:githubWebUrl, shared by every channel
    )


def test_email_has_its_own_fifo_queue_and_dlq(full: Synthesized) -> None:
    queues = {
        v["Properties"].get("QueueName"): v["Properties"] for v in full.of_type("AWS::SQS::Queue").values()
    }
    queue = queues[registry.queue_name(NAME_PREFIX, "email")]
    dlq = queues[registry.dlq_name(NAME_PREFIX, "email")]
    assert queue["FifoQueue"] is True
    assert dlq["FifoQueue"] is True
    assert queue["RedrivePolicy"]["maxReceiveCount"] == registry.EMAIL.settings.max_receive_count


def test_quota_and_paused_alarms_watch_the_metrics_the_channel_emits(
    full: Synthesized, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    alarms = {
        v["Properties"]["MetricName"]: v["Properties"]
        for v in full.of_type("AWS::CloudWatch::Alarm").values()
        if v["Properties"].get("Namespace") == "Fanout"
    }
    env = email_function(full)["Properties"]["Environment"]["Variables"]
    for name in registry.EMAIL.alarm_metrics:
        alarm = alarms[name]
        assert alarm["Threshold"] == 0
        assert alarm["AlarmActions"]
        monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", env["POWERTOOLS_SERVICE_NAME"])
        monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", env["POWERTOOLS_METRICS_NAMESPACE"])
        monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
        capsys.readouterr()
        email_metrics.count(name)
        emf = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        [directive] = emf["_aws"]["CloudWatchMetrics"]
        emitted = {d: emf[d] for d in directive["Dimensions"][0]}
        assert directive["Namespace"] == alarm["Namespace"]
        assert emitted == {d["Name"]: d["Value"] for d in alarm["Dimensions"]}


def test_cdk_nag_passes_with_email_fully_configured(full: Synthesized) -> None:
    assert full.nag_errors() == []


# -- what synth refuses ----------------------------------------------------------------------------


def test_email_is_off_until_its_sender_is_given() -> None:
    assert FanoutProps.from_context(cdk_json_context()).channel("email") is None
    on = FanoutProps.from_context({**cdk_json_context(), "fanout:email:from": EMAIL_SENDER}).channel("email")
    assert on is not None
    assert on.options == {"from": EMAIL_SENDER}
    off = FanoutProps.from_context(
        {**cdk_json_context(), "fanout:email:from": EMAIL_SENDER, "fanout:email:enabled": "false"}
    )
    assert off.channel("email") is None


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"fanout:email:enabled": "true"}, "fanout:email:from is required when the channel is enabled"),
        (
            {"fanout:email:enabled": "true", "fanout:email:from": "Fanout <fanout@example.com>"},
            "fanout:email:from: 'Fanout <fanout@example.com>' is not a single email address",
        ),
        (
            {"fanout:email:from": "fanout@example.com\r\nBcc: x@evil.example"},
            "is not a single email address: contains a control character",
        ),
        (
            {"fanout:email:from": EMAIL_SENDER, "fanout:email:userPoolId": "not a pool"},
            "fanout:email:userPoolId: 'not a pool' is not a Cognito user pool id",
        ),
        (
            {"fanout:email:from": EMAIL_SENDER, "fanout:email:configurationSet": "bad name!"},
            "is not an SES configuration set name",
        ),
    ],
)
def test_synth_refuses_email_settings_that_would_deploy_and_misbehave(
    context: dict[str, str], message: str
) -> None:
    with pytest.raises(InvalidChannelSettings, match="invalid settings for channel email") as raised:
        FanoutProps.from_context({**cdk_json_context(), **context})
    assert message in str(raised.value)


def test_app_exits_with_one_line_when_email_is_enabled_without_a_sender(tmp_path: Path) -> None:
    result = run_app(tmp_path, {"fanout:email:enabled": "true"})
    assert result.returncode == 1
    assert "fanout: cannot synthesize: invalid settings for channel email" in result.stderr
    assert "fanout:email:from is required" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "manifest.json").exists()
