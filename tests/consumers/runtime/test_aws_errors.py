from __future__ import annotations

from botocore.exceptions import ClientError, EndpointConnectionError

from consumers.runtime.aws_errors import aws_code, condition_failed


def client_error(code: str | None) -> ClientError:
    error = {"Message": "m"} if code is None else {"Code": code, "Message": "m"}
    return ClientError({"Error": error}, "UpdateItem")


def test_the_service_code_else_the_exception_type() -> None:
    assert aws_code(client_error("ThrottlingException")) == "ThrottlingException"
    assert aws_code(client_error(None)) == "unknown"
    assert aws_code(EndpointConnectionError(endpoint_url="http://x")) == "EndpointConnectionError"


def test_a_lost_condition_is_recognised() -> None:
    assert condition_failed(client_error("ConditionalCheckFailedException"))
    assert not condition_failed(client_error("ThrottlingException"))
