from __future__ import annotations

import json

from fanout import registry
from fanout.local.provision import ensure_secret, provision


def test_provisions_from_the_registry_and_reuses_on_a_second_run(moto_endpoint, aws_client, unique_name):
    prefix = unique_name("fl")
    settings = {name: spec.settings for name, spec in registry.CHANNELS.items()}
    first = provision(moto_endpoint, settings, prefix=prefix)
    second = provision(moto_endpoint, settings, prefix=prefix)

    assert first == second
    sqs = aws_client("sqs")
    for name, spec in registry.CHANNELS.items():
        channel = first.channels[name]
        assert channel.queue_url.endswith(registry.queue_name(prefix, name))
        assert channel.dlq_url.endswith(registry.dlq_name(prefix, name))
        attributes = sqs.get_queue_attributes(QueueUrl=channel.queue_url, AttributeNames=["All"])[
            "Attributes"
        ]
        redrive = json.loads(attributes["RedrivePolicy"])
        assert attributes["FifoQueue"] == "true"
        assert attributes["VisibilityTimeout"] == str(spec.settings.visibility_timeout_s)
        assert redrive["deadLetterTargetArn"] == channel.dlq_arn
        assert int(redrive["maxReceiveCount"]) == spec.settings.max_receive_count
    ddb = aws_client("dynamodb")
    events = ddb.describe_table(TableName=first.events_table)["Table"]
    assert events["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    assert [k["AttributeName"] for k in events["KeySchema"]] == list(registry.EVENTS_TABLE_KEYS)
    ttl = ddb.describe_time_to_live(TableName=first.ledger_table)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == registry.LEDGER_TTL_ATTRIBUTE


def test_changed_settings_are_applied_to_existing_queues(moto_endpoint, aws_client, unique_name):
    prefix = unique_name("fl")
    settings = {name: spec.settings for name, spec in registry.CHANNELS.items()}
    provision(moto_endpoint, settings, prefix=prefix)
    changed = {**settings, "slack": settings["slack"].with_overrides({"visibility_timeout_s": 240})}
    resources = provision(moto_endpoint, changed, prefix=prefix)
    attributes = aws_client("sqs").get_queue_attributes(
        QueueUrl=resources.channels["slack"].queue_url, AttributeNames=["VisibilityTimeout"]
    )["Attributes"]
    assert attributes["VisibilityTimeout"] == "240"


def test_secret_is_created_then_replaced(moto_endpoint, aws_client, unique_name):
    name = f"bgagent/slack/{unique_name('T')}"
    ensure_secret(moto_endpoint, name, "one")
    ensure_secret(moto_endpoint, name, "two")
    assert aws_client("secretsmanager").get_secret_value(SecretId=name)["SecretString"] == "two"
