"""moto's introspection API stays readable once the stack's functions exist (nothing here runs Docker)."""

from __future__ import annotations

import io
import json
import urllib.request
import zipfile


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return {}\n")
    return buffer.getvalue()


def test_model_data_lists_functions_without_a_docker_client(moto_endpoint, aws_client):
    iam = aws_client("iam")
    role = iam.create_role(
        RoleName="introspection-probe",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    aws_client("lambda").create_function(
        FunctionName="introspection-probe",
        Runtime="python3.13",
        Role=role,
        Handler="index.handler",
        Code={"ZipFile": _zip()},
    )

    with urllib.request.urlopen(f"{moto_endpoint}/moto-api/data.json", timeout=30) as answer:
        data = json.load(answer)

    names = [f.get("function_name") for f in data["awslambda"]["LambdaFunction"]]
    assert "introspection-probe" in names


def test_moto_does_not_repeat_per_resource_what_the_summary_names_once(caplog):
    import logging

    from fanout.local.endpoint import prepare_moto

    prepare_moto()
    with caplog.at_level(logging.WARNING, logger="moto"):
        logging.getLogger("moto").warning("No Moto CloudFormation support for %s", "AWS::CloudWatch::Alarm")
        logging.getLogger("moto").warning("something else")
    assert [r.getMessage() for r in caplog.records] == ["something else"]
