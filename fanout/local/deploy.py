"""Deploy the synthesized template into the endpoint as `cdk deploy` does: bootstrap, publish, create/update.

- Bootstrap: the CDK's default asset bucket (`cdk-hnb659fds-assets-<account>-<region>`) and the bootstrap
  version parameter the template checks (`/cdk-bootstrap/hnb659fds/version`), as `cdk bootstrap` leaves
  them.
- Publish: each zip asset is uploaded to the bucket and key the template names. The local runtime runs the
  handlers in-process from this checkout with the dependencies of its own environment, so the published
  zip holds the asset's Lambda code (`fanout/`, `consumers/`) without its 40 MB of dependencies: the same
  object key and the same code the template deploys, uploaded in milliseconds.
- Stack: created when missing, updated when its template differs, left alone when it is the same.
  Resource types the endpoint cannot create are reported, never dropped silently.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import time
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fanout.local.synth import CACHE, FileAsset, Synthesized

BOOTSTRAP_QUALIFIER = "hnb659fds"
BOOTSTRAP_VERSION = "30"
CODE_TOP_LEVEL = ("fanout", "consumers")
STACK_WAIT_S = 120.0
IN_PROGRESS = "_IN_PROGRESS"


class DeployError(RuntimeError):
    """The stack could not be created or updated; the message has CloudFormation's reason."""


@dataclass(frozen=True)
class Deployment:
    stack_name: str
    stack_id: str
    outputs: dict[str, str]
    not_created: dict[str, list[str]]  # resource type -> logical ids the endpoint did not create
    action: str  # "created" | "updated" | "unchanged"
    seconds: float


def substitute(text: str, account: str, region: str) -> str:
    return (
        text.replace("${AWS::AccountId}", account)
        .replace("${AWS::Region}", region)
        .replace("${AWS::Partition}", "aws")
    )


def bootstrap(s3: Any, ssm: Any, account: str, region: str) -> str:
    bucket = f"cdk-{BOOTSTRAP_QUALIFIER}-assets-{account}-{region}"
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists):
        s3.create_bucket(Bucket=bucket)
    ssm.put_parameter(
        Name=f"/cdk-bootstrap/{BOOTSTRAP_QUALIFIER}/version",
        Value=BOOTSTRAP_VERSION,
        Type="String",
        Overwrite=True,
    )
    return bucket


def publish(s3: Any, assets: tuple[FileAsset, ...], account: str, region: str) -> int:
    """Upload each asset's code zip where the template expects it; returns the bytes uploaded."""
    sent = 0
    for asset in assets:
        body = code_zip(asset.source)
        s3.put_object(
            Bucket=substitute(asset.bucket, account, region),
            Key=substitute(asset.key, account, region),
            Body=body,
        )
        sent += len(body)
    return sent


def code_zip(source: Path, cache: Path = CACHE) -> bytes:
    """The asset directory's Lambda code as a zip, cached next to the synthesized templates."""
    target = cache / f"code-{source.name}.zip"
    if target.is_file():
        return target.read_bytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for top in CODE_TOP_LEVEL:
            for path in sorted((source / top).rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    archive.write(path, path.relative_to(source).as_posix())
    data = buffer.getvalue()
    cache.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".{os.getpid()}.tmp")
    partial.write_bytes(data)
    os.replace(partial, target)
    return data


@contextlib.contextmanager
def quiet_endpoint() -> Iterator[None]:
    """moto prints and warns once per resource type it cannot create; the summary names them instead."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with contextlib.redirect_stdout(io.StringIO()):
            yield


def deploy(cfn: Any, synthesized: Synthesized) -> Deployment:
    started = time.monotonic()
    name = synthesized.stack_name
    body = json.dumps(synthesized.template)
    existing = _describe(cfn, name)
    with quiet_endpoint():
        if existing is None:
            cfn.create_stack(StackName=name, TemplateBody=body, Capabilities=["CAPABILITY_IAM"])
            action = "created"
        elif _current_template(cfn, name) != synthesized.template:
            cfn.update_stack(StackName=name, TemplateBody=body, Capabilities=["CAPABILITY_IAM"])
            action = "updated"
        else:
            action = "unchanged"
    stack = _wait(cfn, name)
    status = str(stack.get("StackStatus", ""))
    if not status.endswith("_COMPLETE") or "ROLLBACK" in status:
        raise DeployError(f"stack {name}: {status}: {stack.get('StackStatusReason') or 'no reason given'}")
    created = {
        r["LogicalResourceId"]
        for page in cfn.get_paginator("list_stack_resources").paginate(StackName=name)
        for r in page.get("StackResourceSummaries", [])
    }
    not_created: dict[str, list[str]] = {}
    for logical_id, resource in synthesized.template.get("Resources", {}).items():
        if logical_id not in created:
            not_created.setdefault(str(resource.get("Type")), []).append(logical_id)
    outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs", [])}
    return Deployment(
        stack_name=name,
        stack_id=str(stack.get("StackId", "")),
        outputs=outputs,
        not_created=not_created,
        action=action,
        seconds=time.monotonic() - started,
    )


def _describe(cfn: Any, name: str) -> dict[str, Any] | None:
    try:
        stacks = cfn.describe_stacks(StackName=name)["Stacks"]
    except cfn.exceptions.ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise
    live = [s for s in stacks if s.get("StackStatus") != "DELETE_COMPLETE"]
    return live[0] if live else None


def _current_template(cfn: Any, name: str) -> Any:
    body = cfn.get_template(StackName=name).get("TemplateBody")
    return json.loads(body) if isinstance(body, str) else body


def _wait(cfn: Any, name: str) -> dict[str, Any]:
    deadline = time.monotonic() + STACK_WAIT_S
    while True:
        stack = _describe(cfn, name)
        if stack is None:
            raise DeployError(f"stack {name} disappeared while it was being deployed")
        if not str(stack.get("StackStatus", "")).endswith(IN_PROGRESS) or time.monotonic() > deadline:
            return stack
        time.sleep(0.1)
