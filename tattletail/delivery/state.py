"""Idempotent delivery: each (record, rule, destination) is delivered at most once.

A record's identity is its ``eventID`` with ``eventTime`` and ``recipientAccountId`` (eventIDs alone are
not unique in real data); a record without an eventID is identified by a hash of its content. The
same record delivered in two log files, a duplicate S3 notification and a retried invocation all
give the same keys.

``DynamoState`` keeps keys in a DynamoDB table (``TATTLETAIL_STATE_TABLE``, partition key ``pk``, a
string) with claim-then-confirm: a conditional write claims a key right before sending, and marks it
delivered after. A claim holds until ``lease_until``, no longer than the claiming invocation can run,
so when an invocation dies between send and confirm its retry finds the claim lapsed and sends again:
an alert is never lost, and is sent twice only if a crash hits that exact moment. Items carry a TTL
attribute (``expires_at``) to enable on the table. ``MemoryState`` removes duplicates within one
invocation only.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Iterable
from typing import Any, Protocol

from tattletail import aws
from tattletail.errors import StateError

LEASE_SECONDS = 20 * 60          # longer than Lambda's 15-minute maximum
TTL_SECONDS = 30 * 24 * 3600     # how long delivered keys are remembered


def record_key(record: dict[str, Any]) -> str:
    event_id = record.get("eventID")
    if isinstance(event_id, str) and event_id:
        return f"{event_id}|{record.get('eventTime')}|{record.get('recipientAccountId')}"
    canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def delivery_key(record: dict[str, Any] | str, rule: str, destination: str) -> str:
    """The key of (record, rule, destination); ``record`` may be given as its ``record_key`` already."""
    return f"{record if isinstance(record, str) else record_key(record)}|{rule}|{destination}"


class State(Protocol):
    def claim(self, keys: Iterable[str], *, parked: bool = False) -> list[str]:
        """Claim keys for sending; return those claimed now (not delivered nor claimed elsewhere).
        Parked keys (dead-lettered) are claimed only with ``parked=True`` (``redrive``)."""

    def park(self, keys: Iterable[str]) -> None:
        """Mark claimed keys dead-lettered: the event run again skips them; ``redrive`` sends them."""

    def confirm(self, keys: Iterable[str]) -> None:
        """Mark claimed keys delivered."""

    def release(self, keys: Iterable[str]) -> None:
        """Give claimed keys up (the send failed; the alert went to the dead letters or will be retried)."""


class MemoryState:
    """Duplicates removed within this process only."""

    def __init__(self) -> None:
        self.delivered: set[str] = set()
        self.claimed: set[str] = set()
        self.parked: set[str] = set()

    def claim(self, keys: Iterable[str], *, parked: bool = False) -> list[str]:
        taken = self.delivered | self.claimed | (set() if parked else self.parked)
        got = [k for k in dict.fromkeys(keys) if k not in taken]
        self.claimed.update(got)
        self.parked.difference_update(got)
        return got

    def park(self, keys: Iterable[str]) -> None:
        keys = set(keys)
        self.claimed -= keys
        self.parked |= keys

    def confirm(self, keys: Iterable[str]) -> None:
        for key in keys:
            self.claimed.discard(key)
            self.delivered.add(key)

    def release(self, keys: Iterable[str]) -> None:
        self.claimed.difference_update(keys)


class DynamoState:
    """Keys in a DynamoDB table whose partition key is the string attribute ``pk``."""

    def __init__(self, table: str, client: Any = None, *, lease: int = LEASE_SECONDS, ttl: int = TTL_SECONDS,
                 clock: Any = time.time) -> None:
        self.table = table
        self._client = client
        self.lease, self.ttl, self.clock = lease, ttl, clock
        self._local = MemoryState()  # the same key twice in one invocation costs no write

    @property
    def client(self) -> Any:
        return self._client or aws.client("dynamodb")

    def claim(self, keys: Iterable[str], *, parked: bool = False) -> list[str]:
        from botocore.exceptions import ClientError

        fresh = self._local.claim(keys, parked=parked)
        condition = "attribute_not_exists(pk) OR (#s = :claimed AND lease_until < :now)"
        values = {":claimed": {"S": "claimed"}, ":now": {"N": str(int(self.clock()))}}
        if parked:
            condition += " OR #s = :parked"
            values[":parked"] = {"S": "dead_lettered"}
        got: list[str] = []
        now = int(self.clock())
        for i, key in enumerate(fresh):
            try:
                self.client.put_item(
                    TableName=self.table,
                    Item={"pk": {"S": key}, "status": {"S": "claimed"}, "claimed_at": {"N": str(now)},
                          "lease_until": {"N": str(now + self.lease)}, "expires_at": {"N": str(now + self.ttl)}},
                    ConditionExpression=condition, ExpressionAttributeNames={"#s": "status"},
                    ExpressionAttributeValues=values,
                )
            except ClientError as exc:
                if aws.is_conditional_failure(exc):
                    self._local.confirm([key])  # delivered, or being delivered, elsewhere
                    continue
                failure: Exception = exc
            except Exception as exc:  # connection errors and the like
                failure = exc
            else:
                got.append(key)
                continue
            self._local.release(fresh[i:])
            self._give_back(got)
            raise StateError(f"state table {self.table}: cannot claim: {failure}")
        return got

    def _give_back(self, keys: list[str]) -> None:
        with contextlib.suppress(StateError):  # if not given back, the claims lapse with their lease
            self.release(keys)

    def confirm(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        self._local.confirm(keys)
        self._set(keys, "delivered", "delivered but not recorded")

    def park(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        self._local.park(keys)
        self._set(keys, "dead_lettered", "dead-lettered but not recorded")

    def _set(self, keys: list[str], status: str, what: str) -> None:
        for key in keys:
            try:
                self.client.update_item(
                    TableName=self.table, Key={"pk": {"S": key}},
                    UpdateExpression="SET #s = :status, updated_at = :now",
                    ExpressionAttributeNames={"#s": "status"},
                    ExpressionAttributeValues={":status": {"S": status}, ":now": {"N": str(int(self.clock()))}},
                )
            except Exception as exc:
                raise StateError(f"state table {self.table}: {what}: {exc}") from None

    def release(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        self._local.release(keys)
        for key in keys:
            try:
                self.client.delete_item(
                    TableName=self.table, Key={"pk": {"S": key}},
                    ConditionExpression="#s = :claimed", ExpressionAttributeNames={"#s": "status"},
                    ExpressionAttributeValues={":claimed": {"S": "claimed"}})
            except Exception as exc:
                if not aws.is_conditional_failure(exc):
                    raise StateError(f"state table {self.table}: cannot release: {exc}") from None
