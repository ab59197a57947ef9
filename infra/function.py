"""One fanout Lambda: Python 3.13 on arm64, its own role and log group, nothing granted by default.

Every function gets a dedicated role whose only built-in permission is writing to its own log group
(instead of the AWSLambdaBasicExecutionRole managed policy, which allows any log group); everything else
is granted where the constructs meet.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.ARM_64
METRICS_NAMESPACE = "Fanout"
LOG_RETENTION = logs.RetentionDays.ONE_MONTH


@dataclass(frozen=True, kw_only=True)
class FunctionProps:
    handler: str  # "package.module.function"
    code: lambda_.Code
    service: str  # POWERTOOLS_SERVICE_NAME: the `service` dimension of the function's metrics
    memory_mb: int
    timeout_s: int
    environment: Mapping[str, str]
    description: str
    reserved_concurrency: int | None = None


class FanoutFunction(Construct):
    """The function, its role and its log group, exposed for grants and alarms."""

    def __init__(self, scope: Construct, construct_id: str, *, props: FunctionProps) -> None:
        super().__init__(scope, construct_id)
        self.service = props.service
        self.log_group = logs.LogGroup(
            self, "Logs", retention=LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"fanout {props.service}: least privilege, granted per resource",
        )
        self.log_group.grant_write(self.role)
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=props.handler,
            code=props.code,
            memory_size=props.memory_mb,
            timeout=Duration.seconds(props.timeout_s),
            reserved_concurrent_executions=props.reserved_concurrency,
            role=self.role,
            log_group=self.log_group,
            description=props.description,
            environment={
                **props.environment,
                "POWERTOOLS_SERVICE_NAME": props.service,
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            },
        )
