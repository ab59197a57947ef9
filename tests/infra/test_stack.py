"""The standalone stack as `app.py` deploys it (cdk.json context), synthesized once for the module."""

from __future__ import annotations

import json
from typing import Any

import pytest

from consumers.runtime import settings as consumer_settings
from consumers.runtime.stats import DeliveryStats
from consumers.runtime.telemetry import Telemetry
from fanout import registry
from fanout.router import settings as router_settings
from infra import router, stack
from infra.observability import COUNT_METRICS, DELIVERY_LATENCY
from infra.settings import cdk_json_context

from .conftest import (
    EMAIL_SENDER,
    GITHUB_REPO_PATTERN,
    GITHUB_TOKEN_ARN,
    NAME_PREFIX,
    Synthesized,
    SynthFactory,
    actions_of,
    statements,
)

pytestmark = pytest.mark.cdk
CHANNELS = list(registry.CHANNELS.values())


@pytest.fixture(scope="module")
def synthesized(synth: SynthFactory) -> Synthesized:
    return synth(
        {
            "fanout:alarmEmail": "ops@example.com",
            "fanout:githubTokenSecretArn": GITHUB_TOKEN_ARN,
            "fanout:githubTokenSecretArnPatterns": GITHUB_REPO_PATTERN,
            "fanout:email:from": EMAIL_SENDER,  # every registry channel deployed
        },
        stage_assets=True,
    )


def function_by_handler(s: Synthesized, handler: str) -> tuple[str, dict[str, Any]]:
    [(logical_id, fn)] = [
        (k, v) for k, v in s.of_type("AWS::Lambda::Function").items() if v["Properties"]["Handler"] == handler
    ]
    return logical_id, fn


def policy_of(s: Synthesized, handler: str) -> list[dict[str, Any]]:
    _, fn = function_by_handler(s, handler)
    role_id = fn["Properties"]["Role"]["Fn::GetAtt"][0]
    policies = {
        k: v for k, v in s.of_type("AWS::IAM::Policy").items() if {"Ref": role_id} in v["Properties"]["Roles"]
    }
    return statements(policies)


def queue_id(s: Synthesized, name: str) -> str:
    [logical_id] = [
        k for k, v in s.of_type("AWS::SQS::Queue").items() if v["Properties"].get("QueueName") == name
    ]
    return logical_id


def test_exactly_one_mapping_reads_the_events_stream_with_the_router(synthesized: Synthesized) -> None:
    [events_table] = [
        k
        for k, v in synthesized.of_type("AWS::DynamoDB::Table").items()
        if "StreamSpecification" in v["Properties"]
    ]
    stream_mappings = [
        m["Properties"]
        for m in synthesized.of_type("AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["EventSourceArn"] == {"Fn::GetAtt": [events_table, "StreamArn"]}
    ]
    assert len(stream_mappings) == 1
    mapping = stream_mappings[0]
    router_id, _ = function_by_handler(synthesized, router.HANDLER)
    assert mapping["FunctionName"] == {"Ref": router_id}
    assert mapping["StartingPosition"] == "LATEST"
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BisectBatchOnFunctionError"] is True
    assert mapping["ParallelizationFactor"] == 1
    assert 0 < mapping["MaximumRetryAttempts"] <= 10
    assert 60 <= mapping["MaximumRecordAgeInSeconds"] < 24 * 3600  # inside the stream's retention
    failure_queue = mapping["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
    queue = synthesized.resources[failure_queue]["Properties"]
    assert "FifoQueue" not in queue
    assert queue["SqsManagedSseEnabled"] is True


def test_every_queue_is_encrypted_and_refuses_plain_http(synthesized: Synthesized) -> None:
    queues = synthesized.of_type("AWS::SQS::Queue")
    assert all(
        q["Properties"].get("SqsManagedSseEnabled") or q["Properties"].get("KmsMasterKeyId")
        for q in queues.values()
    )
    guarded: set[str] = set()
    for policy in synthesized.of_type("AWS::SQS::QueuePolicy").values():
        for st in policy["Properties"]["PolicyDocument"]["Statement"]:
            if st["Effect"] == "Deny" and st["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}:
                guarded.update(q["Ref"] for q in policy["Properties"]["Queues"])
    assert guarded == set(queues)


@pytest.mark.parametrize("spec", CHANNELS, ids=lambda s: s.name)
def test_channel_queue_is_fifo_with_a_fifo_dlq_redriven_only_from_it(
    synthesized: Synthesized, spec: registry.ChannelSpec
) -> None:
    queue = synthesized.resources[queue_id(synthesized, registry.queue_name(NAME_PREFIX, spec.name))][
        "Properties"
    ]
    dlq_id = queue_id(synthesized, registry.dlq_name(NAME_PREFIX, spec.name))
    dlq = synthesized.resources[dlq_id]["Properties"]
    assert queue["FifoQueue"] is True
    assert dlq["FifoQueue"] is True
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
        "maxReceiveCount": spec.settings.max_receive_count,
    }
    assert queue["MessageRetentionPeriod"] == dlq["MessageRetentionPeriod"] == 14 * 24 * 3600
    allow = dlq["RedriveAllowPolicy"]
    assert allow["redrivePermission"] == "byQueue"
    [source] = allow["sourceQueueArns"]
    assert registry.queue_name(NAME_PREFIX, spec.name) in json.dumps(source)


@pytest.mark.parametrize("spec", CHANNELS, ids=lambda s: s.name)
def test_consumer_mapping_reports_partial_failures_with_the_configured_concurrency(
    synthesized: Synthesized, spec: registry.ChannelSpec
) -> None:
    settings = spec.settings.with_overrides(
        {
            k.split(":")[2]: v
            for k, v in cdk_json_context().items()
            if k.startswith(f"fanout:{spec.name}:")
            and k.split(":")[2] not in {"enabled", *(o.key for o in spec.options)}
        }
    )
    fn_id, _ = function_by_handler(synthesized, spec.handler)
    [mapping] = [
        m["Properties"]
        for m in synthesized.of_type("AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": fn_id}
    ]
    assert mapping["EventSourceArn"] == {
        "Fn::GetAtt": [queue_id(synthesized, registry.queue_name(NAME_PREFIX, spec.name)), "Arn"]
    }
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": settings.max_concurrency}
    assert mapping["BatchSize"] == settings.batch_size


@pytest.mark.parametrize("spec", CHANNELS, ids=lambda s: s.name)
def test_visibility_is_at_least_six_times_the_consumer_timeout(
    synthesized: Synthesized, spec: registry.ChannelSpec
) -> None:
    _, fn = function_by_handler(synthesized, spec.handler)
    queue = synthesized.resources[queue_id(synthesized, registry.queue_name(NAME_PREFIX, spec.name))][
        "Properties"
    ]
    assert queue["VisibilityTimeout"] >= registry.VISIBILITY_TIMEOUT_FACTOR * fn["Properties"]["Timeout"]


@pytest.mark.parametrize("spec", CHANNELS, ids=lambda s: s.name)
def test_consumer_runs_python313_arm64_with_the_runtime_environment(
    synthesized: Synthesized, spec: registry.ChannelSpec
) -> None:
    _, fn = function_by_handler(synthesized, spec.handler)
    props = fn["Properties"]
    assert props["Runtime"] == "python3.13"
    assert props["Architectures"] == ["arm64"]
    assert props["MemorySize"] == spec.settings.memory_mb
    assert props["Timeout"] == spec.settings.timeout_s
    env = props["Environment"]["Variables"]
    expected = consumer_settings.environment_for(
        spec, spec.settings, queue_url="q", dlq_url="d", task_table="t", ledger_table="l"
    )
    assert set(expected) <= set(env)
    assert env[consumer_settings.ENV_CHANNEL] == spec.name
    assert env[consumer_settings.ENV_MAX_ATTEMPTS] == str(spec.settings.max_attempts)
    assert env["POWERTOOLS_SERVICE_NAME"] == spec.name
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "Fanout"
    # The consumer reads the settings the CDK set: it loads without a SettingsError.
    loaded = consumer_settings.load_settings(
        {k: v if isinstance(v, str) else "resolved" for k, v in env.items()}
    )
    assert loaded.channel == spec.name


def test_router_environment_names_every_channel_queue(synthesized: Synthesized) -> None:
    _, fn = function_by_handler(synthesized, router.HANDLER)
    env = fn["Properties"]["Environment"]["Variables"]
    for spec in CHANNELS:
        url = env[router_settings.queue_url_env(spec.name)]
        assert url == {"Ref": queue_id(synthesized, registry.queue_name(NAME_PREFIX, spec.name))}


def test_router_may_only_send_to_channel_queues_and_read_its_stream(synthesized: Synthesized) -> None:
    policy = policy_of(synthesized, router.HANDLER)
    actions = {a for st in policy for a in actions_of(st)}
    assert not any(a.startswith("secretsmanager:") for a in actions)
    assert {a for a in actions if a.startswith("dynamodb:")} == {
        "dynamodb:ListStreams", "dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"
    }  # fmt: skip
    channel_queues = {queue_id(synthesized, registry.queue_name(NAME_PREFIX, s.name)) for s in CHANNELS}
    sends = [st for st in policy if actions_of(st) == ["sqs:SendMessage"]]
    assert [{r["Fn::GetAtt"][0] for r in st["Resource"]} for st in sends] == [channel_queues]
    other_sqs = [st for st in policy if any(a.startswith("sqs:") for a in actions_of(st)) and st not in sends]
    # The only other queue it touches is its own on-failure destination.
    assert all(st["Resource"]["Fn::GetAtt"][0] not in channel_queues for st in other_sqs)


def test_slack_secrets_are_readable_only_by_the_slack_consumer(synthesized: Synthesized) -> None:
    for handler in [router.HANDLER, *(s.handler for s in CHANNELS)]:
        mentions_slack = "bgagent/slack" in json.dumps(policy_of(synthesized, handler))
        assert mentions_slack is (handler == registry.SLACK.handler), handler
    [secret] = [
        st
        for st in policy_of(synthesized, registry.SLACK.handler)
        if "secretsmanager:GetSecretValue" in actions_of(st)
    ]
    assert "secret:bgagent/slack/*" in json.dumps(secret["Resource"])


def test_github_consumer_reads_only_its_token_secrets(synthesized: Synthesized) -> None:
    secret_statements = [
        st
        for st in policy_of(synthesized, registry.GITHUB.handler)
        if any(a.startswith("secretsmanager:") for a in actions_of(st))
    ]
    assert [(actions_of(st), st["Resource"]) for st in secret_statements] == [
        (["secretsmanager:GetSecretValue"], [GITHUB_TOKEN_ARN, GITHUB_REPO_PATTERN])
    ]
    _, fn = function_by_handler(synthesized, registry.GITHUB.handler)
    assert (
        fn["Properties"]["Environment"]["Variables"][consumer_settings.ENV_GITHUB_TOKEN_SECRET]
        == GITHUB_TOKEN_ARN
    )


@pytest.mark.parametrize("spec", CHANNELS, ids=lambda s: s.name)
def test_consumer_touches_only_its_own_queues_and_the_tables(
    synthesized: Synthesized, spec: registry.ChannelSpec
) -> None:
    own = {
        queue_id(synthesized, registry.queue_name(NAME_PREFIX, spec.name)),
        queue_id(synthesized, registry.dlq_name(NAME_PREFIX, spec.name)),
    }
    policy = policy_of(synthesized, spec.handler)
    sqs_targets = {
        st["Resource"]["Fn::GetAtt"][0] for st in policy if any(a.startswith("sqs:") for a in actions_of(st))
    }
    assert sqs_targets == own
    tables = {k: v for k, v in synthesized.of_type("AWS::DynamoDB::Table").items()}
    granted: dict[str, set[str]] = {}
    for st in policy:
        for r in st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]:
            if isinstance(r, dict) and r.get("Fn::GetAtt", [""])[0] in tables:
                granted.setdefault(r["Fn::GetAtt"][0], set()).update(actions_of(st))
    grants = {table: sorted(actions) for table, actions in granted.items()}
    ledger = next(
        k
        for k, v in tables.items()
        if v["Properties"]["KeySchema"][0]["AttributeName"] == registry.LEDGER_PARTITION_KEY
    )
    task = next(
        k
        for k, v in tables.items()
        if v["Properties"]["KeySchema"] == [{"AttributeName": registry.TASK_TABLE_KEY, "KeyType": "HASH"}]
    )
    assert grants == {
        ledger: [
            "dynamodb:ConditionCheckItem",
            "dynamodb:DeleteItem",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
        ],
        task: ["dynamodb:GetItem", "dynamodb:UpdateItem"] if spec.writes_task else ["dynamodb:GetItem"],
    }


def test_ledger_table_is_on_demand_with_ttl_and_pitr(synthesized: Synthesized) -> None:
    [ledger] = [
        v["Properties"]
        for v in synthesized.of_type("AWS::DynamoDB::Table").values()
        if v["Properties"]["KeySchema"][0]["AttributeName"] == registry.LEDGER_PARTITION_KEY
    ]
    assert ledger["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert ledger["AttributeDefinitions"] == [{"AttributeName": "pk", "AttributeType": "S"}]
    assert ledger["BillingMode"] == "PAY_PER_REQUEST"
    assert ledger["TimeToLiveSpecification"] == {
        "AttributeName": registry.LEDGER_TTL_ATTRIBUTE,
        "Enabled": True,
    }
    assert ledger["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


def test_standalone_creates_both_platform_tables(synthesized: Synthesized) -> None:
    keys = {
        tuple(k["AttributeName"] for k in v["Properties"]["KeySchema"]): v["Properties"]
        for v in synthesized.of_type("AWS::DynamoDB::Table").values()
    }
    assert keys[registry.EVENTS_TABLE_KEYS]["StreamSpecification"] == {"StreamViewType": "NEW_IMAGE"}
    assert (registry.TASK_TABLE_KEY,) in keys
    assert synthesized.stack.notifications.tables_created is True


def test_alarms_per_channel_and_router_notify_the_topic(synthesized: Synthesized) -> None:
    alarms = synthesized.of_type("AWS::CloudWatch::Alarm")
    by_metric: dict[str, int] = {}
    for alarm in alarms.values():
        by_metric[alarm["Properties"]["MetricName"]] = by_metric.get(alarm["Properties"]["MetricName"], 0) + 1
        [action] = alarm["Properties"]["AlarmActions"]
        assert action == {"Ref": next(iter(synthesized.of_type("AWS::SNS::Topic")))}
    assert by_metric == {
        "ApproximateNumberOfMessagesVisible": len(CHANNELS) + 1,  # each DLQ + the router's on-failure queue
        "ApproximateAgeOfOldestMessage": len(CHANNELS),
        "IteratorAge": 1,
        "DeadLetterFailed": len(CHANNELS),
        **{metric: 1 for spec in CHANNELS for metric in spec.alarm_metrics},  # declared by the registry
    }
    [topic] = synthesized.of_type("AWS::SNS::Topic").values()
    assert "KmsMasterKeyId" in topic["Properties"]
    [subscription] = synthesized.of_type("AWS::SNS::Subscription").values()
    assert subscription["Properties"]["Endpoint"] == "ops@example.com"


def test_the_accounts_alarms_may_publish_to_the_topic_over_tls_only(synthesized: Synthesized) -> None:
    [policy] = synthesized.of_type("AWS::SNS::TopicPolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    [allow] = [st for st in statements if st["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert allow["Action"] == "sns:Publish"
    assert "aws:SourceAccount" in allow["Condition"]["StringEquals"]
    [deny] = [st for st in statements if st["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def emitted_metric(
    spec: registry.ChannelSpec,
    env: dict[str, Any],
    name: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> list[str]:
    """What the consumer runtime emits under the function's deployed environment: [namespace, name, dims...]."""
    for key in ("POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE"):
        monkeypatch.setenv(key, env[key])
    telemetry = Telemetry(spec.name, DeliveryStats())
    telemetry.metrics.add_metric(name=name, unit="Count", value=1)
    capsys.readouterr()
    telemetry.flush()
    emf = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    [directive] = emf["_aws"]["CloudWatchMetrics"]
    [dimensions] = directive["Dimensions"]
    return [directive["Namespace"], name, *(part for d in dimensions for part in (d, emf[d]))]


def identity(metric: list[str]) -> tuple[str, str, dict[str, str]]:
    return metric[0], metric[1], dict(zip(metric[2::2], metric[3::2], strict=True))


@pytest.mark.parametrize("spec", CHANNELS, ids=lambda s: s.name)
def test_dashboard_graphs_exactly_the_metrics_the_consumer_runtime_emits(
    synthesized: Synthesized,
    spec: registry.ChannelSpec,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    [dashboard] = synthesized.of_type("AWS::CloudWatch::Dashboard").values()
    body = json.loads(
        "".join(p for p in dashboard["Properties"]["DashboardBody"]["Fn::Join"][1] if isinstance(p, str))
    )
    # Each graphed metric is [namespace, name, dimension, value, ..., {options}]; tokens dropped from the body.
    metrics = [m for w in body["widgets"] for m in w["properties"].get("metrics", [])]
    graphed = [[x for x in m if not isinstance(x, dict)] for m in metrics]
    _, fn = function_by_handler(synthesized, spec.handler)
    env = fn["Properties"]["Environment"]["Variables"]
    for metric in (*COUNT_METRICS, DELIVERY_LATENCY):
        emitted = emitted_metric(spec, env, metric, monkeypatch, capsys)
        # Same namespace, name and whole dimension set (CloudWatch matches all of them).
        assert identity(emitted) in [identity(g) for g in graphed], (emitted, graphed)
    latency = [m for m in metrics if DELIVERY_LATENCY in m and spec.name in m]
    assert sorted(m[-1]["stat"] for m in latency) == ["p50", "p99"]


def test_outputs_name_every_channels_resources_for_the_cli(synthesized: Synthesized) -> None:
    outputs = synthesized.template.to_json()["Outputs"]
    whats = [
        registry.OUTPUT_QUEUE_URL,
        registry.OUTPUT_QUEUE_ARN,
        registry.OUTPUT_DLQ_URL,
        registry.OUTPUT_DLQ_ARN,
        registry.OUTPUT_CONSUMER_NAME,
        registry.OUTPUT_EVENT_SOURCE_MAPPING_ID,
    ]
    expected = {registry.output_key(s.name, w) for s in CHANNELS for w in whats}
    expected |= {
        stack.ROUTER_FUNCTION_NAME,
        stack.LEDGER_TABLE_NAME,
        stack.TASK_TABLE_NAME,
        stack.EVENTS_TABLE_NAME,
        stack.ALARM_TOPIC_ARN,
    }
    assert expected <= set(outputs)
    slack_queue = queue_id(synthesized, registry.queue_name(NAME_PREFIX, "slack"))
    assert outputs[registry.output_key("slack", registry.OUTPUT_QUEUE_URL)]["Value"] == {"Ref": slack_queue}


def test_every_function_runs_from_the_one_staged_lambda_asset(synthesized: Synthesized) -> None:
    keys = {
        json.dumps(fn["Properties"]["Code"]) for fn in synthesized.of_type("AWS::Lambda::Function").values()
    }
    assert len(keys) == 1
    [staged] = [d for d in synthesized.outdir.glob("asset.*") if d.is_dir()]
    assert (staged / "fanout" / "router" / "handler.py").is_file()
    assert (staged / "aws_lambda_powertools").is_dir()
    assert not (staged / "fanout" / "cli").exists()


def test_cdk_nag_passes_on_the_real_stack(synthesized: Synthesized) -> None:
    assert synthesized.nag_errors() == []
