"""IAM in the in-process endpoint: enforced, with the identities a deployment has.

moto checks every request's signature and the caller's policies once its no-auth allowance is used up
(`INITIAL_NO_AUTH_ACTION_COUNT`). It names the resource of a request for SQS, IAM and STS only; for the
other services it asks "may the caller do this on `*`?", which no least-privilege grant allows. So the
in-process endpoint tells moto the resource of each request the deployed functions and the operations CLI
make (DynamoDB table or stream, secret, event source mapping, stack), and IAM decides as in AWS.

moto's trust-policy check understands only `"AWS": ...` principals. Here the runtime stands in for the
Lambda service (the functions' roles trust `lambda.amazonaws.com`), and an account principal
(`arn:aws:iam::<account>:root`) admits every identity of that account, as in AWS.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

ADMIN_USER = "fanout-local-admin"
ADMIN_POLICY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)
SESSION_SECONDS = 12 * 3600

BATCH_ACTIONS = {
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
}
TRANSACT_WRITE = "dynamodb:TransactWriteItems"
TRANSACT_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}
RESOLVER = "_determine_resource"
_lock = threading.Lock()
_installed = False
# Identities allowed to assume a role whose trust names an AWS service: the runtime's admin, which
# stands in for Lambda when it runs a function with the function's role.
SERVICE_STAND_INS: set[str] = set()


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None
    arn: str = ""

    def as_boto(self) -> dict[str, str]:
        out = {"aws_access_key_id": self.access_key_id, "aws_secret_access_key": self.secret_access_key}
        if self.session_token:
            out["aws_session_token"] = self.session_token
        return out

    def as_env(self) -> dict[str, str]:
        out = {"AWS_ACCESS_KEY_ID": self.access_key_id, "AWS_SECRET_ACCESS_KEY": self.secret_access_key}
        if self.session_token:
            out["AWS_SESSION_TOKEN"] = self.session_token
        return out


def set_enforced(enforced: bool) -> None:
    """Every request is authenticated and authorized (True), or none is (False, moto's default)."""
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin

    install()
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0 if enforced else float("inf")
    ActionAuthenticatorMixin.request_count = 0


def enforced() -> bool:
    from moto import settings

    return bool(settings.INITIAL_NO_AUTH_ACTION_COUNT == 0)


@contextlib.contextmanager
def paused() -> Iterator[None]:
    was = enforced()
    set_enforced(False)
    try:
        yield
    finally:
        set_enforced(was)


def install() -> None:
    """Teach moto the resource of each request (see the module docstring); idempotent."""
    global _installed
    with _lock:
        if _installed:
            return
        from moto.awslambda.responses import LambdaResponse
        from moto.cloudformation.responses import CloudFormationResponse
        from moto.dynamodb.responses import DynamoHandler
        from moto.dynamodbstreams.responses import DynamoDBStreamsHandler
        from moto.iam.access_control import IAMPolicyStatement, IAMRequestBase
        from moto.secretsmanager.responses import SecretsManagerResponse
        from moto.sesv2.responses import SESV2Response

        resolvers: list[tuple[type, Any]] = [
            (DynamoHandler, _dynamodb_resource),
            (DynamoDBStreamsHandler, _stream_resource),
            (SecretsManagerResponse, _secret_resource),
            (LambdaResponse, _lambda_resource),
            (CloudFormationResponse, _stack_resource),
            (SESV2Response, _ses_resource),
        ]
        for response_class, resolver in resolvers:
            setattr(response_class, RESOLVER, _when_enforced(resolver))  # moto's call_action asks for it
        original = IAMRequestBase._check_role_trust_relationship

        def trusted(self: Any, role_arn: str) -> bool:
            return _trusts(self, role_arn) or bool(original(self, role_arn))

        IAMRequestBase._check_role_trust_relationship = trusted  # type: ignore[method-assign]
        build_request = IAMRequestBase._create_aws_request

        def signed_as_sent(self: Any) -> Any:
            # A bodiless request (Lambda's REST GETs) is signed over an empty payload; moto would hash
            # its parsed parameters instead and answer SignatureDoesNotMatch.
            if not self._body and str(self._method).upper() in {"GET", "DELETE", "HEAD"}:
                self._data = b""
            return build_request(self)

        IAMRequestBase._create_aws_request = signed_as_sent  # type: ignore[method-assign]
        check = IAMRequestBase.check_action_permitted

        def as_iam_names_it(self: Any, resource: str) -> None:
            # IAM authorizes SQS's batch calls with the single-message action (SendMessageBatch needs
            # sqs:SendMessage); moto asks for the batch action's own name, which no policy grants.
            self._action = BATCH_ACTIONS.get(self._action, self._action)
            if self._action == TRANSACT_WRITE and resource == "*":
                # AWS has no dynamodb:TransactWriteItems action: each item's own action on its table
                # must be allowed, and a denial names the item's action.
                for action, table in transaction_items(self._body or b""):
                    self._action = action
                    check(self, f"arn:aws:dynamodb:{self._region}:{self.account_id}:table/{table}")
                return
            check(self, resource)

        IAMRequestBase.check_action_permitted = as_iam_names_it  # type: ignore[method-assign]
        IAMPolicyStatement._match = staticmethod(iam_match)  # type: ignore[method-assign]
        _installed = True


def _when_enforced(resolver: Any) -> Any:
    """Name the resource only when IAM decides on it: otherwise moto asks for nothing more than before."""

    def resolve(self: Any) -> str:
        from moto import settings

        if settings.INITIAL_NO_AUTH_ACTION_COUNT != 0:
            return "*"
        return str(resolver(self))

    return resolve


def transaction_items(body: bytes | str) -> list[tuple[str, str]]:
    """(action, table) of each item of a TransactWriteItems request body; an unreadable body or item
    gives an action no policy grants, so the request is denied rather than waved through."""
    try:
        items = json.loads(body or b"{}").get("TransactItems")
    except (ValueError, AttributeError):
        return [(TRANSACT_WRITE, "*")]
    if not isinstance(items, list) or not items:
        return [(TRANSACT_WRITE, "*")]
    out: list[tuple[str, str]] = []
    for item in items:
        kind, op = next(iter(item.items())) if isinstance(item, dict) and len(item) == 1 else ("", {})
        table = op.get("TableName") if isinstance(op, dict) else None
        out.append((TRANSACT_ACTIONS.get(kind, TRANSACT_WRITE), table if isinstance(table, str) else "*"))
    return out


def iam_match(pattern: str, string: str) -> re.Match[str] | None:
    """IAM's wildcards: `*` any run of characters, `?` exactly one; everything else literal (moto turns
    only `*` into a regex and leaves `?` and dots as regex syntax)."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.match(f"^{regex}$", string)


def _param(response: Any, name: str) -> Any:
    try:
        value = response._get_param(name)
    except Exception:  # an unparsable body: moto answers it with its own error
        return None
    return value


def _arn(response: Any, service: str, resource: str) -> str:
    return f"arn:aws:{service}:{response.region}:{response.current_account}:{resource}"


def _dynamodb_resource(self: Any) -> str:
    table = _param(self, "TableName")
    return _arn(self, "dynamodb", f"table/{table}") if isinstance(table, str) and table else "*"


def _stream_resource(self: Any) -> str:
    arn = _param(self, "StreamArn")
    if isinstance(arn, str) and arn:
        return arn
    iterator = _param(self, "ShardIterator")  # moto's iterator id starts with its stream ARN
    if isinstance(iterator, str) and "|" in iterator:
        return iterator.split("|", 1)[0]
    return "*"


def _secret_resource(self: Any) -> str:
    secret_id = _param(self, "SecretId")
    if not isinstance(secret_id, str) or not secret_id:
        name = _param(self, "Name")
        return _arn(self, "secretsmanager", f"secret:{name}") if isinstance(name, str) else "*"
    try:
        return str(self.backend.describe_secret(secret_id).arn)
    except Exception:
        if secret_id.startswith("arn:"):
            return secret_id
        return _arn(self, "secretsmanager", f"secret:{secret_id}")


def _ses_resource(self: Any) -> str:
    """SendEmail is authorized on the sender's identity (IAM also checks a configuration set's; the
    local stack names none)."""
    if not str(getattr(self, "path", "") or "").endswith("/outbound-emails"):
        return "*"
    try:
        sender = json.loads(self.body or b"{}").get("FromEmailAddress")
    except (ValueError, AttributeError):
        return "*"
    return _arn(self, "ses", f"identity/{sender}") if isinstance(sender, str) and sender else "*"


MAPPING_PATH = re.compile(r"/event-source-mappings/(?P<uuid>[0-9a-f-]{36})")
FUNCTION_PATH = re.compile(r"/functions/(?P<name>[^/]+)")


def _lambda_resource(self: Any) -> str:
    path = str(getattr(self, "path", "") or "")
    mapping = MAPPING_PATH.search(path)
    if mapping:
        return _arn(self, "lambda", f"event-source-mapping:{mapping.group('uuid')}")
    function = FUNCTION_PATH.search(path)
    if function:
        name = function.group("name")
        return name if name.startswith("arn:") else _arn(self, "lambda", f"function:{name}")
    return "*"


def _stack_resource(self: Any) -> str:
    name = _param(self, "StackName")
    if not isinstance(name, str) or not name:
        return "*"
    if name.startswith("arn:"):
        return name
    try:
        return str(self.cloudformation_backend.describe_stacks(name)[0].stack_id)
    except Exception:
        return _arn(self, "cloudformation", f"stack/{name}/*")


def _trusts(request: Any, role_arn: str) -> bool:
    """Service principals (the runtime stands in for the service) and account principals."""
    try:
        role = request.backend.get_role_by_arn(role_arn)
        statements = json.loads(role.assume_role_policy_document).get("Statement", [])
    except Exception:
        return False
    caller = str(request._access_key.arn)
    caller_account = caller.split(":")[4] if caller.count(":") >= 5 else ""
    for statement in statements if isinstance(statements, list) else [statements]:
        if statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal") or {}
        if not isinstance(principal, dict):
            continue
        if principal.get("Service") and caller in SERVICE_STAND_INS:
            return True
        aws = principal.get("AWS")
        for value in [aws] if isinstance(aws, str) else list(aws or []):
            text = str(value)
            if text in {caller_account, f"arn:aws:iam::{caller_account}:root"}:
                return True
    return False


def create_admin(iam: Any) -> Credentials:
    """An IAM user with every permission: the runtime's own identity (deploy, seed, read back)."""
    try:
        user = iam.create_user(UserName=ADMIN_USER)["User"]
    except iam.exceptions.EntityAlreadyExistsException:  # an endpoint reused in this process
        user = iam.get_user(UserName=ADMIN_USER)["User"]
        for old in iam.list_access_keys(UserName=ADMIN_USER)["AccessKeyMetadata"]:
            iam.delete_access_key(UserName=ADMIN_USER, AccessKeyId=old["AccessKeyId"])
    iam.put_user_policy(UserName=ADMIN_USER, PolicyName="everything", PolicyDocument=ADMIN_POLICY)
    key = iam.create_access_key(UserName=ADMIN_USER)["AccessKey"]
    SERVICE_STAND_INS.add(str(user["Arn"]))
    return Credentials(key["AccessKeyId"], key["SecretAccessKey"], None, str(user["Arn"]))


def assume(sts: Any, role_arn: str, session: str) -> Credentials:
    response = sts.assume_role(
        RoleArn=role_arn, RoleSessionName=session[:64], DurationSeconds=SESSION_SECONDS
    )
    c = response["Credentials"]
    return Credentials(
        c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"], str(response["AssumedRoleUser"]["Arn"])
    )


ACCESS_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "AuthorizationError"})
