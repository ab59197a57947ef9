"""What a consumer's import leaves for later: modules only some paths need are imported on those paths
(docs/performance.md, "Cold start"), so a container whose first messages do not take them never pays."""

from __future__ import annotations

import subprocess
import sys

import pytest

from fanout import registry

# Modules a consumer handler must not import at import time, and the path that imports them.
DEFERRED = (
    "aws_lambda_powertools.utilities.parameters",  # the first token read (Slack, GitHub)
    "consumers.slack.finder",  # Slack's reconcile after an uncertain outcome
)


@pytest.mark.parametrize("channel", sorted(registry.CHANNELS))
def test_a_consumer_import_leaves_the_rare_path_modules_for_later(channel: str) -> None:
    module = registry.CHANNELS[channel].handler.rpartition(".")[0]
    code = f"import sys, {module}; print(' '.join(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(result.stdout.split())
    assert module in loaded
    assert not loaded & set(DEFERRED)


def test_the_slack_token_read_imports_the_parameters_utility() -> None:
    code = (
        "import sys, consumers.slack.tokens as t\n"
        "source = t.TokenSource(object(), 'p-', lambda: 0.0)\n"
        "before = 'aws_lambda_powertools.utilities.parameters' in sys.modules\n"
        "source._secrets_provider()\n"
        "print(before, 'aws_lambda_powertools.utilities.parameters' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "True"]
