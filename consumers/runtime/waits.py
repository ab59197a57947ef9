"""How long a message waits, as SQS takes it: backoff, the age budget left, rate-limit windows (the
consumer's arithmetic, apart from its flow in consumer.py)."""

from __future__ import annotations

from consumers.runtime import budget
from consumers.runtime import telemetry as keys
from consumers.runtime.backoff import RandomSource, clamp_delay, retry_delay
from consumers.runtime.channel import Clock
from consumers.runtime.dispositions import Later
from consumers.runtime.outcomes import Retry
from consumers.runtime.queue_message import QueueMessage
from consumers.runtime.settings import ConsumerSettings


class MessageWaits:
    def __init__(self, settings: ConsumerSettings, clock: Clock, random: RandomSource) -> None:
        self._settings = settings
        self._clock = clock
        self._random = random

    def retry_delay(self, retry: Retry, message: QueueMessage, attempt: int, now: float) -> int:
        delay = retry_delay(
            retry.after_seconds,
            attempt=max(1, attempt),
            base_s=self._settings.backoff_base_s,
            cap_s=self._settings.backoff_cap_s,
            now=now,
            first_received_at=message.first_received_or(now),
            random=self._random,
        )
        return self.clamp(delay, message, now)

    def wait(self, message: QueueMessage, reason: str, *, attempt: int) -> Later:
        """A backoff wait that costs no attempt."""
        now = self._clock()
        delay = self.retry_delay(Retry(None, reason), message, attempt, now)
        return Later(delay, reason, keys.DEFERRED)

    def budget_left(self, message: QueueMessage, now: float) -> float:
        return budget.age_left(
            now=now, first_received_at=message.first_received_or(now), max_age_s=self._settings.max_age_s
        )

    def clamp(self, delay_s: float, message: QueueMessage, now: float) -> int:
        """A wait as SQS takes it, and never past the message's age budget: it comes back just after the
        budget ends and is dead-lettered with its reason, instead of holding its group longer."""
        capped = min(delay_s, self.budget_left(message, now) + 1)
        return clamp_delay(capped, now=now, first_received_at=message.first_received_or(now))

    def window(self, seconds: float, message: QueueMessage, now: float) -> int:
        """A rate-limit window as the key's memory and the shared store keep it: no longer than any
        message's whole age budget (a 12 h reset would otherwise hold the key past every budget)."""
        capped = min(seconds, float(self._settings.max_age_s))
        return clamp_delay(capped, now=now, first_received_at=message.first_received_or(now))
