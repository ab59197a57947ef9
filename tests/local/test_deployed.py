"""Functions run as deployed: handler, environment, timeout and mapping settings read back from Lambda."""

from __future__ import annotations

from fanout import registry
from fanout.local.runner import run_local

from .conftest import local_options


def test_pollers_and_containers_take_their_settings_from_the_deployed_stack():
    overrides = {
        "slack": {"batch_size": 3, "max_concurrency": 3, "timeout_s": 20, "visibility_timeout_s": 120}
    }
    result = run_local(local_options(steps=[], settings_overrides=overrides))

    assert result.exit_code == 0
    runtime = result.runtime
    assert runtime.stack is not None
    slack = runtime.stack.consumers["slack"]
    assert slack.handler == registry.SLACK.handler
    assert (slack.timeout_s, slack.mapping.batch_size, slack.mapping.max_concurrency) == (20, 3, 3)
    assert slack.mapping.report_item_failures
    poller = runtime.pollers["slack"]
    assert (poller.source.batch_size, poller.source.timeout_s, len(runtime.containers["slack"])) == (3, 20, 3)
    assert poller.source.function_name == slack.name
    settings = runtime.containers["slack"][0].settings  # built from the deployed environment
    assert settings.api_base_url == runtime.api_urls["slack"].rstrip("/")
    assert settings.queue_url == runtime.deployment.outputs["SlackQueueUrl"]
    router = runtime.stack.router.mapping
    assert (router.bisect, router.retry_attempts, router.max_record_age_s) == (True, 10, 6 * 3600)
    assert router.on_failure_arn is not None
    assert router.on_failure_arn.endswith(
        runtime.deployment.outputs["RouterOnFailureQueueUrl"].rsplit("/", 1)[-1]
    )
