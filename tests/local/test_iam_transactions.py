"""A DynamoDB transaction under enforced IAM, decided as AWS does: every item's own action on its table
(AWS has no dynamodb:TransactWriteItems action)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from fanout.local.endpoint import AwsEndpoint
from fanout.local.iam import transaction_items

from .conftest import fresh_account

TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
}


def table(admin_db: Any, name: str) -> str:
    admin_db.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return str(admin_db.describe_table(TableName=name)["Table"]["TableArn"])


def transaction(tasks: str, ledger: str) -> list[dict[str, Any]]:
    def update(name: str) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": name,
                "Key": {"pk": {"S": "one"}},
                "UpdateExpression": "SET v = :v",
                "ExpressionAttributeValues": {":v": {"S": "x"}},
            }
        }

    return [update(tasks), update(ledger)]


def test_a_transaction_needs_each_items_action_on_its_table() -> None:
    with AwsEndpoint(account=fresh_account()) as endpoint:
        admin_db, iam = endpoint.client("dynamodb"), endpoint.client("iam")
        tasks_arn, ledger_arn = table(admin_db, "tasks"), table(admin_db, "ledger")
        role = iam.create_role(RoleName="consumer", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]

        def grant(*resources: str) -> None:
            statement = {"Effect": "Allow", "Action": "dynamodb:UpdateItem", "Resource": list(resources)}
            document = {"Version": "2012-10-17", "Statement": [statement]}
            iam.put_role_policy(RoleName="consumer", PolicyName="p", PolicyDocument=json.dumps(document))

        grant(ledger_arn)  # no UpdateItem on the task table
        db = endpoint.assume(role["Arn"], "consumer").client("dynamodb", endpoint_url=endpoint.url)
        with pytest.raises(ClientError) as denied:
            db.transact_write_items(TransactItems=transaction("tasks", "ledger"))
        assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        assert "dynamodb:UpdateItem" in str(denied.value)
        assert "Item" not in admin_db.get_item(TableName="ledger", Key={"pk": {"S": "one"}})

        grant(ledger_arn, tasks_arn)
        db.transact_write_items(TransactItems=transaction("tasks", "ledger"))
        for name in ("tasks", "ledger"):
            item = admin_db.get_item(TableName=name, Key={"pk": {"S": "one"}})["Item"]
            assert item["v"] == {"S": "x"}


def test_transaction_items_names_each_items_action_and_table() -> None:
    body = json.dumps(
        {
            "TransactItems": [
                {"Put": {"TableName": "l", "Item": {}}},
                {"ConditionCheck": {"TableName": "l", "Key": {}}},
                {"Update": {"TableName": "t", "Key": {}}},
            ]
        }
    )
    assert transaction_items(body) == [
        ("dynamodb:PutItem", "l"),
        ("dynamodb:ConditionCheckItem", "l"),
        ("dynamodb:UpdateItem", "t"),
    ]
    assert transaction_items(b"not json") == [("dynamodb:TransactWriteItems", "*")]
