"""Correlation windows' counts: in memory (one invocation, or a whole ``replay``), or in DynamoDB.

``DynamoWindows`` keeps one item per (correlation, group, window) in the state table the function
already uses for delivery (``TATTLETAIL_STATE_TABLE``; its keys start with ``correlation|``, so they
never meet delivery keys). Each base-rule match is one ``UpdateItem``: ``ADD`` its counted member and
its evidence member to two string sets, which is atomic and idempotent, so concurrent invocations
never lose a count and a record seen twice counts once; ``ReturnValues=ALL_NEW`` gives back the
window as it is now, on which the condition is decided. Once the window's alert has been handed to
delivery, the item is marked ``done_at`` and further updates are refused by their condition: no
re-fire, and no growth. Items are bounded: counted members up to the condition's count (at most
``model.MAX_COUNT``, 256 bytes each) and evidence up to ``window.EVIDENCE_CAP`` (512 bytes each), and
expire (``expires_at``, the table's TTL attribute) a day after the window can no longer change.

That two invocations both see a window's condition met is fine: each hands the alert to delivery
under the same delivery key, whose claim lets one send it.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from tattletail import aws
from tattletail.correlation.window import EVIDENCE_CAP, Entry, WindowState
from tattletail.errors import StateError


class Windows(Protocol):
    def add(self, entry: Entry, expires_at: int) -> WindowState | None:
        """Add an entry to its window; the window after, or ``None`` when it is done (has fired)."""

    def done(self, key: str, expires_at: int) -> None:
        """Mark a window fired: later entries are not added."""


class MemoryWindows:
    """Windows in this process: one invocation without a table, or ``run``/``replay``/``test``."""

    def __init__(self) -> None:
        self.windows: dict[str, WindowState] = {}
        self.finished: set[str] = set()
        self.writes = 0  # what DynamoWindows would have written: one per addition, one per window closed

    def add(self, entry: Entry, expires_at: int) -> WindowState | None:
        self.writes += 1
        if entry.key in self.finished:
            return None
        state = self.windows.setdefault(entry.key, WindowState(set(), set()))
        state.counted.add(entry.counted)
        if len(state.evidence) < EVIDENCE_CAP:
            state.evidence.add(entry.evidence)
        return WindowState(set(state.counted), set(state.evidence))

    def done(self, key: str, expires_at: int) -> None:
        self.writes += 1
        self.finished.add(key)
        self.windows.pop(key, None)


class DynamoWindows:
    """Windows in a DynamoDB table whose partition key is the string attribute ``pk``."""

    def __init__(self, table: str, client: Any = None, *, clock: Any = time.time) -> None:
        self.table = table
        self._client = client
        self.clock = clock
        self.writes = 0  # UpdateItem calls made, conditional failures included (they cost a write too)

    @property
    def client(self) -> Any:
        return self._client or aws.client("dynamodb")

    def _update(self, entry: Entry, expires_at: int, with_evidence: bool) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        adds = "ADD c :c, e :e" if with_evidence else "ADD c :c"
        condition = "attribute_not_exists(done_at)"
        values: dict[str, Any] = {":c": {"SS": [entry.counted]}, ":x": {"N": str(expires_at)}}
        if with_evidence:
            condition += " AND (attribute_not_exists(e) OR size(e) < :cap)"
            values[":e"] = {"SS": [entry.evidence]}
            values[":cap"] = {"N": str(EVIDENCE_CAP)}
        self.writes += 1
        try:
            response = self.client.update_item(
                TableName=self.table, Key={"pk": {"S": entry.key}},
                UpdateExpression=f"{adds} SET expires_at = :x", ConditionExpression=condition,
                ExpressionAttributeValues=values, ReturnValues="ALL_NEW")
        except ClientError as exc:
            if aws.is_conditional_failure(exc):
                return None
            raise StateError(f"state table {self.table}: cannot count correlation: {aws.describe(exc)}") from None
        except Exception as exc:  # connection errors and the like
            raise StateError(f"state table {self.table}: cannot count correlation: {aws.describe(exc)}") from None
        item: dict[str, Any] = response.get("Attributes", {})
        return item

    def add(self, entry: Entry, expires_at: int) -> WindowState | None:
        item = self._update(entry, expires_at, True)
        if item is None:  # done, or the evidence is full: count without it (refused too when done)
            item = self._update(entry, expires_at, False)
            if item is None:
                return None
        return WindowState(set(item.get("c", {}).get("SS", [])), set(item.get("e", {}).get("SS", [])))

    def done(self, key: str, expires_at: int) -> None:
        self.writes += 1
        try:
            self.client.update_item(
                TableName=self.table, Key={"pk": {"S": key}},
                UpdateExpression="SET done_at = :now, expires_at = :x",
                ExpressionAttributeValues={":now": {"N": str(int(self.clock()))}, ":x": {"N": str(expires_at)}})
        except Exception as exc:
            raise StateError(f"state table {self.table}: cannot mark correlation fired: {aws.describe(exc)}") from None
