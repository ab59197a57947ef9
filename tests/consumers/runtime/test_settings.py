"""The consumer's settings: read from the environment once, at cold start, each checked on its own and
against the others; a problem names the variable."""

from __future__ import annotations

import pytest

from consumers.runtime import settings as cs
from consumers.runtime.settings import ConsumerSettings, SettingsError, environment_for, load_settings
from fanout import registry

from .conftest import ConsumerEnv


def deployed_env(**changes: str) -> dict[str, str]:
    env = environment_for(
        registry.SLACK,
        registry.SLACK.settings,
        queue_url="q",
        dlq_url="d",
        task_table="tasks",
        ledger_table="ledger",
    )
    return {**env, **changes}


def test_what_the_stack_sets_loads_as_the_registry_says() -> None:
    loaded = load_settings(deployed_env())
    s = registry.SLACK.settings
    assert isinstance(loaded, ConsumerSettings)
    assert (loaded.min_wait_s, loaded.claim_ttl_s) == (s.wait_floor_s, s.claim_ttl_s)
    assert (loaded.http_connect_timeout_s, loaded.http_read_timeout_s) == (3.0, 10.0)
    assert (loaded.hot_window_s, loaded.outage_stale_s, loaded.ledger_retention_s) == (120, 60, 15 * 86400)
    assert loaded.record_margin_s == s.record_margin_s


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({cs.ENV_CHANNEL: "teams"}, "FANOUT_CHANNEL='teams': unknown channel 'teams'"),
        ({cs.ENV_QUEUE_URL: ""}, "environment variable FANOUT_QUEUE_URL is not set"),
        ({cs.ENV_MAX_ATTEMPTS: "ten"}, "FANOUT_MAX_ATTEMPTS='ten' is not an integer"),
        ({cs.ENV_MAX_ATTEMPTS: "0"}, "FANOUT_MAX_ATTEMPTS='0' must be 1..1000"),
        ({cs.ENV_BACKOFF_BASE_S: "nan"}, "FANOUT_BACKOFF_BASE_S='nan' must be"),
        ({cs.ENV_HTTP_READ_TIMEOUT_S: "-1"}, "FANOUT_HTTP_READ_TIMEOUT_S='-1' must be"),
        ({cs.ENV_BACKOFF_BASE_S: "1000"}, "FANOUT_BACKOFF_BASE_S 1000 is above FANOUT_BACKOFF_CAP_S 900"),
        ({cs.ENV_CLAIM_TTL_S: "20"}, "FANOUT_CLAIM_TTL_S 20 is below the function timeout"),
        ({cs.ENV_HTTP_READ_TIMEOUT_S: "28"}, r"\(33 s\) must be below the function timeout \(30 s\)"),
        ({cs.ENV_LEDGER_RETENTION_S: "86400"}, "FANOUT_LEDGER_RETENTION_S 86400 must exceed the queues'"),
    ],
)
def test_a_bad_setting_is_refused_at_cold_start_naming_the_variable(
    changes: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(deployed_env(**changes))


def test_the_hot_window_is_the_channels_setting(consumer_env: ConsumerEnv, key: str) -> None:
    now = consumer_env.clock()
    consumer_env.handler().rate_limits.note(key, now + 600)  # a sibling publishes a 10-minute window
    late = consumer_env.handler(hot_window_s=5)
    late.rate_limits.watch(key, now)
    assert late.rate_limits.shared_horizon(key, now + 6) is None  # hot for 5 s only: no read after
    hot = consumer_env.handler(hot_window_s=5)
    hot.rate_limits.watch(key, now)
    assert hot.rate_limits.shared_horizon(key, now + 4) == pytest.approx(now + 600, abs=0.01)
