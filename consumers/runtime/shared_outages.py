"""Provider outages shared by every container of a channel, for what a failure costs: one item per
failing key in the ledger table, `pk` = "outage#<channel>#<key>", holding the event whose failure
opened the outage (`opener`), whether another event has failed in it since (`others`), the next probe
time its latest failure set (`probe_at`) and the TTL attribute.

Each container keeps its own circuit and probe times (outages.py). But whether a failed call
*continues* an outage, and so costs its message no attempt, must not depend on which container the
message landed in: with one circuit per container, a message bouncing between containers during one
outage would pay an attempt in each, and its backoff would grow with them. A failure continues an
outage when the outage is fresh (its latest probe time is at most STALE_S ago) and some message other
than the failing one has failed in it: a message failing alone is charged every time, as it would be
without the circuit, since it cannot be told from a message the provider cannot take.

The item is written only when a call fails on the provider's side, and cleared by a container that
saw the outage when a call on the key is answered again, so a fault-free delivery costs no call here.
Best effort: when the table cannot be used, the failure is charged, as it would be without sharing.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from consumers.runtime.aws_errors import aws_code, condition_failed
from consumers.runtime.ledger_items import LedgerItems, expiry, number
from consumers.runtime.outages import STALE_S
from fanout.registry import LEDGER_TTL_ATTRIBUTE

OPENER = "opener"
OTHERS = "others"
PROBE_AT = "probe_at"


class SharedOutages(LedgerItems):
    """Errors are reported to `on_error` as ("note" | "clear", the error)."""

    PREFIX = "outage#"

    def __init__(self, *args: Any, stale_s: float = STALE_S, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stale_s = stale_s  # the channel's outageStaleS

    def failed(self, key: str, now: float, *, event_id: str, probe_at: float) -> bool:
        """Record that `event_id` failed on the provider's side of `key`, with its next probe at
        `probe_at`. True when this failure continues a fresh outage that another message has failed in
        too (it costs no attempt); False when it opens one, or only this message has failed so far."""
        try:
            reply = self._update(
                key,
                "SET #o = if_not_exists(#o, :event), #p = :probe, #ttl = :ttl",
                values={":event": {"S": event_id}, ":probe": {"N": _num(probe_at)}, ":ttl": expiry(now)},
                names={"#o": OPENER, "#p": PROBE_AT, "#ttl": LEDGER_TTL_ATTRIBUTE},
                ReturnValues="ALL_OLD",
            )
        except (ClientError, BotoCoreError) as exc:
            self._on_error("note", aws_code(exc))
            return False
        old = reply.get("Attributes", {})
        opener = old.get(OPENER, {}).get("S")
        others = old.get(OTHERS, {}).get("BOOL") is True
        previous_probe = number(old.get(PROBE_AT))
        if opener is None:
            return False  # this failure opens the outage
        if previous_probe is None or now - previous_probe > self.stale_s:
            self._reopen(key, stale_opener=opener, event_id=event_id)
            return False  # the stored outage was long over: this failure opens a new one
        if opener == event_id:
            return others
        if not others:
            self._mark_others(key)
        return True

    def ended(self, key: str) -> None:
        """A call on `key` was answered: the outage is over."""
        try:
            self._update(
                key,
                "REMOVE #o, #x, #p",
                names={"#o": OPENER, "#x": OTHERS, "#p": PROBE_AT},
                ConditionExpression="attribute_exists(#o)",
            )
        except ClientError as exc:
            if not condition_failed(exc):
                self._on_error("clear", aws_code(exc))
        except BotoCoreError as exc:
            self._on_error("clear", aws_code(exc))

    def _reopen(self, key: str, *, stale_opener: str, event_id: str) -> None:
        try:
            self._update(
                key,
                "SET #o = :event REMOVE #x",
                values={":event": {"S": event_id}, ":stale": {"S": stale_opener}},
                names={"#o": OPENER, "#x": OTHERS},
                ConditionExpression="#o = :stale",
            )
        except ClientError as exc:
            if not condition_failed(exc):  # a sibling reopened it first: as good
                self._on_error("note", aws_code(exc))
        except BotoCoreError as exc:
            self._on_error("note", aws_code(exc))

    def _mark_others(self, key: str) -> None:
        try:
            self._update(key, "SET #x = :yes", values={":yes": {"BOOL": True}}, names={"#x": OTHERS})
        except (ClientError, BotoCoreError) as exc:
            self._on_error("note", aws_code(exc))

    def _update(
        self,
        key: str,
        expression: str,
        *,
        names: dict[str, str],
        values: dict[str, Any] | None = None,
        **extra: Any,
    ) -> Any:
        request: dict[str, Any] = {
            "TableName": self._table,
            "Key": self._key(key),
            "UpdateExpression": expression,
            "ExpressionAttributeNames": names,
            **extra,
        }
        if values:
            request["ExpressionAttributeValues"] = values
        return self._db.update_item(**request)


def _num(value: float) -> str:
    return f"{value:.3f}"
