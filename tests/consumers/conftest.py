"""Fixtures shared by the channels' consumer tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.consumers.secrets import CountingSecrets


@pytest.fixture
def secrets(aws_client: Callable[[str], Any]) -> CountingSecrets:
    """Secrets Manager on the moto server, its reads counted."""
    return CountingSecrets(aws_client("secretsmanager"))
