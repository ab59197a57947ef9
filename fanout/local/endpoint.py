"""The AWS-compatible endpoint: moto's server in-process (IAM enforced), or a given URL.

The runtime's own identity there (`admin`) deploys the stack, seeds data and reads the deployment back;
the functions run with credentials from assuming their own roles (`assume`). In-process, the admin is an
IAM user created before enforcement starts; at a given URL it is whoever the environment's credentials
name. `account` (library use: tests, benchmarks) puts the run in an account of its own, so runs sharing an
endpoint never see each other's stack.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import warnings
from types import TracebackType
from typing import Any

from fanout.local import iam

REGION = "us-east-1"
DEFAULT_ACCOUNT = "123456789012"  # moto's
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "fanout-local", "AWS_SECRET_ACCESS_KEY": "fanout-local"}
ACCOUNT_PATTERN = re.compile(r"^\d{12}$")


def use_local_aws_environment() -> None:
    """Region and (fake, unless already set) credentials for every boto3 client of this process.

    Every client the local runtime builds has an explicit endpoint, so nothing here can reach AWS.
    """
    os.environ["AWS_DEFAULT_REGION"] = REGION
    os.environ["AWS_REGION"] = REGION
    for name, value in FAKE_CREDENTIALS.items():
        os.environ.setdefault(name, value)


class AwsEndpoint:
    """`with AwsEndpoint(url) as endpoint:` uses `url`, or starts moto's server when url is None."""

    def __init__(
        self, url: str | None = None, *, port: int = 0, account: str | None = None, enforce_iam: bool = True
    ) -> None:
        if account is not None and not ACCOUNT_PATTERN.match(account):
            raise ValueError(f"account {account!r} is not 12 digits")
        self._given = url.rstrip("/") if url else None
        self._port = port
        self._server: object | None = None
        self._enforcing = False
        self.enforce_iam = enforce_iam
        self.account = account or DEFAULT_ACCOUNT
        self._account_given = account is not None
        self.url = self._given or ""
        self.admin: Any = None  # boto3.Session of the runtime's own identity
        self.admin_credentials: iam.Credentials | None = None
        self._clients: dict[str, Any] = {}

    @property
    def in_process(self) -> bool:
        return self._given is None

    @property
    def iam_enforced(self) -> bool:
        return self._enforcing

    def start(self) -> AwsEndpoint:
        use_local_aws_environment()
        prepare_moto()
        if self._given is None:
            from moto.server import ThreadedMotoServer

            logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per AWS call
            iam.set_enforced(False)
            server = ThreadedMotoServer(ip_address="127.0.0.1", port=self._port, verbose=False)
            server.start()
            host, port = server.get_host_and_port()
            self._server = server
            self.url = f"http://{host}:{port}"
        base: Any = Identity()  # the environment's credentials
        if self._account_given:
            # A fresh account: its first identity comes from assuming a role there (the endpoint does not
            # check it yet), as an organization's account-access role would.
            entry = iam.assume(
                base.client("sts", endpoint_url=self.url),
                f"arn:aws:iam::{self.account}:role/fanout-local-entry",
                "entry",
            )
            base = session_of(entry)
        if self.in_process:
            self.admin_credentials = iam.create_admin(base.client("iam", endpoint_url=self.url))
            self.admin = session_of(self.admin_credentials)
            if self.enforce_iam:
                iam.set_enforced(True)
                self._enforcing = True
        else:
            self.admin = base
        return self

    def client(self, service: str) -> Any:
        """A client of the runtime's own identity (one per service: boto3 clients are thread-safe)."""
        with _shared_lock:
            if service not in self._clients:
                self._clients[service] = self.admin.client(service, endpoint_url=self.url, region_name=REGION)
            return self._clients[service]

    def assume(self, role_arn: str, session_name: str) -> Any:
        """A boto3 Session with the role's credentials (what Lambda gives a function)."""
        return session_of(iam.assume(self.client("sts"), role_arn, session_name))

    def stop(self) -> None:
        server, self._server = self._server, None
        if self._enforcing:
            iam.set_enforced(False)
            self._enforcing = False
        if server is not None:
            server.stop()  # type: ignore[attr-defined]

    def __enter__(self) -> AwsEndpoint:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class _UnsupportedTypeFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("No Moto CloudFormation support for")


def prepare_moto() -> None:
    """moto as the runtime needs it, for any server of this process (the in-process endpoint, or a test's
    own moto server given by URL): its event source mappings do not invoke, requests name their
    resources for IAM, and its warnings about resource types it cannot create stay quiet (the summary
    names them)."""
    try:
        from fanout.local.emulator import moto_invoke
    except ImportError:  # pragma: no cover - moto is in the cli extra
        return
    warnings.filterwarnings("ignore", message="Tried to parse AWS::", category=UserWarning)
    # moto also logs each such resource, once per resource and run; the summary names them once.
    moto_logger = logging.getLogger("moto")
    if not any(isinstance(f, _UnsupportedTypeFilter) for f in moto_logger.filters):
        moto_logger.addFilter(_UnsupportedTypeFilter())
    moto_invoke.install()
    iam.install()


_shared: Any = None
_shared_lock = threading.RLock()


def shared_session() -> Any:
    """One boto3 Session for every identity of the process: botocore parses each service model once
    per session, so a session per identity (admin, each function, the operator) would parse them all
    again; credentials are given per client instead."""
    global _shared
    with _shared_lock:
        if _shared is None:
            import boto3

            _shared = boto3.Session(region_name=REGION)
        return _shared


class Identity:
    """An identity at the endpoint: `client(service, ...)` as a boto3 Session's, with its credentials."""

    def __init__(self, credentials: iam.Credentials | None = None) -> None:
        self.credentials = credentials

    def client(self, service: str, **kwargs: Any) -> Any:
        if self.credentials is not None:
            kwargs = {**self.credentials.as_boto(), **kwargs}
        kwargs.setdefault("region_name", REGION)
        with _shared_lock:  # botocore's session is not safe for concurrent client creation
            return shared_session().client(service, **kwargs)


def session_of(credentials: iam.Credentials) -> Identity:
    return Identity(credentials)


def aws_client(endpoint_url: str, service: str) -> Any:
    """A boto3 client for the local endpoint with the environment's credentials."""
    import boto3

    return boto3.client(service, endpoint_url=endpoint_url, region_name=REGION)  # type: ignore[call-overload]
