"""Exactly-once delivery: each (record, rule, destination) is sent once, crashes included.

A record's identity is its ``eventID`` with ``eventTime`` and ``recipientAccountId`` (eventIDs alone are
not unique in real data); a record without an eventID is identified by a hash of its content. The
same record delivered in two log files, a duplicate S3 notification and a retried invocation all
give the same keys.

``DynamoState`` keeps keys in a DynamoDB table (``TATTLETAIL_STATE_TABLE``, partition key ``pk``, a
string) with claim-then-confirm. A key is in one of three states:

- ``claimed``: a conditional write took it right before sending, until ``lease_until``;
- ``delivered``: confirmed after the send;
- ``dead_lettered``: kept as a dead letter (``redrive`` sends it).

``claim`` sorts the keys asked for into *mine* (claimed now: send them), *done* (delivered or
dead-lettered, by anyone: nothing to do) and *held* (a live claim of another invocation). A held key
is never counted as done: the dispatcher polls it (``look``) while the invocation has time, takes it
over if its claim lapses or is given up, and otherwise fails the item as retryable.

Timing. A claim's lease ends at the claiming invocation's own deadline plus ``CLAIM_MARGIN`` (5 s,
for clock skew between hosts): no invocation runs past its deadline, so a live claim always belongs
to an invocation that may still send, and the claims of a crashed or timed-out invocation lapse at
most ``CLAIM_MARGIN`` after the time it would have had. Lambda retries an asynchronous invocation
about 1 and then 2 more minutes after it failed, and an SQS message becomes visible again after the
queue's visibility timeout (at least the function's timeout): a retry starts after the failure, so
its deadline is later than the crashed invocation's, and it either finds the claims lapsed or waits
for them within its own time (when the crash came early in a long invocation). Polling starts after
``POLL_FIRST`` seconds and doubles up to ``POLL_MAX``. Outside Lambda (no deadline) a claim lasts
``LEASE_SECONDS``.

A send that succeeds but whose confirmation is lost (a crash between the two, or the table failing)
is sent again once the claim lapses: never lost; twice only in that exact moment. Items carry a TTL
attribute (``expires_at``) to enable on the table. ``MemoryState`` removes duplicates within one
invocation only.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from tattletail import aws
from tattletail.errors import StateError

LEASE_SECONDS = 20 * 60          # a claim without a deadline (command line): longer than Lambda's 15 minutes
CLAIM_MARGIN = 5.0               # seconds a claim outlives its claimer's deadline
TTL_SECONDS = 30 * 24 * 3600     # how long delivered keys are remembered
POLL_FIRST = 0.2                 # seconds before the first look at claims held elsewhere
POLL_MAX = 5.0                   # longest wait between two looks

CLAIMED, DELIVERED, DEAD_LETTERED = "claimed", "delivered", "dead_lettered"


def record_key(record: dict[str, Any]) -> str:
    event_id = record.get("eventID")
    if isinstance(event_id, str) and event_id:
        return f"{event_id}|{record.get('eventTime')}|{record.get('recipientAccountId')}"
    canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def delivery_key(record: dict[str, Any] | str, rule: str, destination: str) -> str:
    """The key of (record, rule, destination); ``record`` may be given as its ``record_key`` already."""
    return f"{record if isinstance(record, str) else record_key(record)}|{rule}|{destination}"


@dataclass
class Claims:
    """Keys sorted by what this invocation may do with them."""

    mine: list[str] = field(default_factory=list)          # claimed by this call: send them
    done: list[str] = field(default_factory=list)          # delivered or dead-lettered (by anyone)
    held: dict[str, float] = field(default_factory=dict)   # live claims of others: key -> lease end (epoch s)
    free: list[str] = field(default_factory=list)          # ``look`` only: unclaimed, or the claim lapsed


class State(Protocol):
    def claim(self, keys: Iterable[str], *, parked: bool = False) -> Claims:
        """Claim keys for sending. Parked keys (dead-lettered) are claimed only with ``parked=True``
        (``redrive``); otherwise they are done."""

    def look(self, keys: Iterable[str]) -> Claims:
        """Where keys stand now, without claiming (``mine`` stays empty)."""

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

    def claim(self, keys: Iterable[str], *, parked: bool = False) -> Claims:
        claims = Claims()
        for key in dict.fromkeys(keys):
            if key in self.delivered or (key in self.parked and not parked):
                claims.done.append(key)
            elif key in self.claimed:
                claims.held[key] = math.inf
            else:
                claims.mine.append(key)
                self.claimed.add(key)
                self.parked.discard(key)
        return claims

    def look(self, keys: Iterable[str]) -> Claims:
        claims = Claims()
        for key in dict.fromkeys(keys):
            if key in self.delivered or key in self.parked:
                claims.done.append(key)
            elif key in self.claimed:
                claims.held[key] = math.inf
            else:
                claims.free.append(key)
        return claims

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
    """Keys in a DynamoDB table whose partition key is the string attribute ``pk``.

    ``time_left`` is the invocation's remaining time (``Deadline.remaining``): it sets each claim's
    lease (that time plus ``margin``) and caps every call's network timeouts."""

    def __init__(self, table: str, client: Any = None, *, time_left: Callable[[], float] | None = None,
                 lease: float = LEASE_SECONDS, margin: float | None = None, ttl: int = TTL_SECONDS,
                 clock: Callable[[], float] = time.time) -> None:
        from tattletail import aws

        self.table = table
        self._client = client
        self._clients = aws.Clients("dynamodb", attempts=2)
        self.time_left = time_left or (lambda: math.inf)
        self.lease, self.ttl, self.clock = lease, ttl, clock
        self.margin = CLAIM_MARGIN if margin is None else margin
        self._local = MemoryState()  # the same key twice in one invocation costs no write

    @property
    def client(self) -> Any:
        """The client given, else one whose calls end before the invocation does."""
        if self._client is not None:
            return self._client
        left = self.time_left()
        return self._clients.get(None if math.isinf(left) else max(left, 1.0))

    def lease_until(self, now: float) -> float:
        """When a claim made ``now`` lapses: this invocation's deadline plus the margin."""
        left = self.time_left()
        return now + (self.lease if math.isinf(left) else max(left, 0.0)) + self.margin

    def claim(self, keys: Iterable[str], *, parked: bool = False) -> Claims:
        local = self._local.claim(keys, parked=parked)
        claims = Claims(done=local.done, held=dict(local.held))
        condition = "attribute_not_exists(pk) OR (#s = :claimed AND lease_until < :now)"
        values = {":claimed": {"S": CLAIMED}}
        if parked:
            condition += " OR #s = :parked"
            values[":parked"] = {"S": DEAD_LETTERED}
        taken: list[str] = []   # taken elsewhere: looked up once the loop is done
        for i, key in enumerate(local.mine):
            now = self.clock()
            try:
                self.client.put_item(
                    TableName=self.table,
                    Item={"pk": {"S": key}, "status": {"S": CLAIMED}, "claimed_at": {"N": str(int(now))},
                          "lease_until": {"N": f"{self.lease_until(now):.3f}"},
                          "expires_at": {"N": str(int(now) + self.ttl)}},
                    ConditionExpression=condition, ExpressionAttributeNames={"#s": "status"},
                    ExpressionAttributeValues={**values, ":now": {"N": f"{now:.3f}"}},
                )
            except Exception as exc:  # botocore: a condition that did not hold, or a real failure
                if aws.is_conditional_failure(exc):
                    self._local.release([key])
                    taken.append(key)
                    continue
                failure: Exception = exc
            else:
                claims.mine.append(key)
                continue
            self._local.release(local.mine[i:])
            self._give_back(claims.mine)
            raise StateError(f"state table {self.table}: cannot claim: {aws.describe(failure)}")
        if taken:
            seen = self.look(taken)
            claims.done += seen.done
            claims.held.update(seen.held)
            # given up or lapsed between the write and the look: held for a moment, looked at again soon
            claims.held.update(dict.fromkeys(seen.free, 0.0))
        return claims

    def look(self, keys: Iterable[str]) -> Claims:
        """One strongly consistent read per 100 keys (``BatchGetItem``)."""
        keys = list(dict.fromkeys(keys))
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(keys), 100):
            request: dict[str, Any] = {self.table: {
                "Keys": [{"pk": {"S": k}} for k in keys[start:start + 100]], "ConsistentRead": True,
                "ProjectionExpression": "pk, #s, lease_until", "ExpressionAttributeNames": {"#s": "status"}}}
            for attempt in range(6):  # unprocessed keys (throttling) are asked for again, after a pause
                if attempt:
                    time.sleep(0.05 * 2 ** attempt)
                try:
                    answer = self.client.batch_get_item(RequestItems=request)
                except Exception as exc:
                    raise StateError(f"state table {self.table}: cannot read claims: {aws.describe(exc)}") from None
                for item in answer.get("Responses", {}).get(self.table, []):
                    found[item["pk"]["S"]] = item
                request = answer.get("UnprocessedKeys") or {}
                if not request:
                    break
            else:
                raise StateError(f"state table {self.table}: cannot read claims: keys left unprocessed")
        now = self.clock()
        claims = Claims()
        for key in keys:
            item = found.get(key)
            status = item["status"]["S"] if item else None
            lease = float(item.get("lease_until", {}).get("N", "0")) if item else 0.0
            if status in (DELIVERED, DEAD_LETTERED):
                claims.done.append(key)
            elif status == CLAIMED and lease >= now:
                claims.held[key] = lease
            else:
                claims.free.append(key)
        return claims

    def _give_back(self, keys: list[str]) -> None:
        with contextlib.suppress(StateError):  # if not given back, the claims lapse with their lease
            self.release(keys)

    def confirm(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        self._local.confirm(keys)
        self._set(keys, DELIVERED, "delivered but not recorded")

    def park(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        self._local.park(keys)
        self._set(keys, DEAD_LETTERED, "dead-lettered but not recorded")

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
                raise StateError(f"state table {self.table}: {what}: {aws.describe(exc)}") from None

    def release(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        self._local.release(keys)
        for key in keys:
            try:
                self.client.delete_item(
                    TableName=self.table, Key={"pk": {"S": key}},
                    ConditionExpression="#s = :claimed", ExpressionAttributeNames={"#s": "status"},
                    ExpressionAttributeValues={":claimed": {"S": CLAIMED}})
            except Exception as exc:
                if not aws.is_conditional_failure(exc):
                    raise StateError(f"state table {self.table}: cannot release: {aws.describe(exc)}") from None
