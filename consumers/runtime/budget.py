"""A channel's retry budget: real attempts and age. Pure.

Age counts from the message's first receipt (SQS's ApproximateFirstReceiveTimestamp), not from the
ledger's first attempt: it needs no ledger read, it bounds deferrals that never make an attempt (a long
rate limit, a claim that keeps being held), and it is the same origin as SQS's 12-hour visibility rule. A
message an operator redrives from the DLQ is a new message, so it gets a fresh age budget, and dead-lettering
resets the ledger's attempt count, so it gets fresh attempts too.
"""

from __future__ import annotations


def age_exceeded(*, now: float, first_received_at: float, max_age_s: int) -> bool:
    return now - first_received_at > max_age_s


def attempts_exhausted(attempts: int, max_attempts: int) -> bool:
    """`attempts` counts real provider calls that failed (deferrals cost none)."""
    return attempts >= max_attempts


def age_left(*, now: float, first_received_at: float, max_age_s: int) -> float:
    """Seconds of the age budget still left (never negative)."""
    return max(0.0, max_age_s - (now - first_received_at))
