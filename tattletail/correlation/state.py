"""Correlation windows' counts: in memory (one invocation, or a whole ``replay``), or in DynamoDB.

``DynamoWindows`` keeps one item per (correlation, group, window) in the state table the function
already uses for delivery (``TATTLETAIL_STATE_TABLE``; its keys start with ``correlation|``, so they
never meet delivery keys). Each base-rule match is one ``UpdateItem``: ``ADD`` its counted member and
its evidence member to two string sets, which is atomic and idempotent, so concurrent invocations
never lose a count and a record seen twice counts once; ``ReturnValues=ALL_NEW`` gives back the
window as it is now, on which the condition is decided. The same update adds the record's event
second to a number set (``t``: first and last event time), and once a window holds more members of
a kind than decide anything (``window.prunable``), one more ``UpdateItem`` ``DELETE``s the dominated
ones (about one extra write per ``window.PRUNE_AT`` additions). Once the window's alert has been handed to
delivery, the item is marked ``done_at`` and further updates are refused by their condition: no
re-fire, and no growth. A refused update returns the old item (``ReturnValuesOnConditionCheckFailure``);
when it is done the window is remembered as closed for the rest of the invocation, so a flood after a
fire costs one refused write per window and invocation, not three per match.
Items are bounded: counted members up to the condition's count (at most
``model.MAX_COUNT``, 256 bytes each: once the count meets it, no more are added, also while the
window's alert waits for delivery; ``temporal_ordered``: the middle rules' event seconds at the
window's resolution, at most ``model.ORDER_MEMBERS``),
evidence up to ``window.EVIDENCE_CAP`` (512 bytes each) and times to ``window.PRUNE_AT`` + 1, and
expire (``expires_at``, the table's TTL attribute) a day after the window can no longer change.

That two invocations both see a window's condition met is fine: each hands the alert to delivery
under the same delivery key, whose claim lets one send it. ``peek`` reads a window without changing
it: a record too late to count may still find its window met but never marked done (its alert was
fired, and not delivered), and fire it again (``correlator``).
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

    def peek(self, key: str) -> WindowState | None:
        """The window as it is, or ``None`` when there is none or it is done."""

    def prune(self, key: str, counted: set[str], times: set[int]) -> None:
        """Drop members that decide nothing any more (``window.prunable``)."""


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
        state = self.windows.setdefault(entry.key, WindowState(set(), set(), set()))
        if not entry.cap or len(state.counted) < entry.cap:
            state.counted.update(entry.counted)
        state.times.add(entry.second)
        if len(state.evidence) < EVIDENCE_CAP:
            state.evidence.add(entry.evidence)
        return _copy(state)

    def peek(self, key: str) -> WindowState | None:
        state = self.windows.get(key)
        return _copy(state) if state is not None and key not in self.finished else None

    def prune(self, key: str, counted: set[str], times: set[int]) -> None:
        self.writes += 1
        state = self.windows.get(key)
        if state is not None:
            state.counted -= counted
            state.times -= times

    def done(self, key: str, expires_at: int) -> None:
        self.writes += 1
        self.finished.add(key)
        self.windows.pop(key, None)


def _copy(state: WindowState) -> WindowState:
    return WindowState(set(state.counted), set(state.evidence), set(state.times))


def _state(item: dict[str, Any]) -> WindowState:
    return WindowState(set(item.get("c", {}).get("SS", [])), set(item.get("e", {}).get("SS", [])),
                       {int(float(n)) for n in item.get("t", {}).get("NS", [])})


class DynamoWindows:
    """Windows in a DynamoDB table whose partition key is the string attribute ``pk``."""

    def __init__(self, table: str, client: Any = None, *, clock: Any = time.time) -> None:
        self.table = table
        self._client = client
        self.clock = clock
        self.writes = 0  # UpdateItem calls made, conditional failures included (they cost a write too)
        self.full: dict[str, str] = {}  # window key -> "evidence" or "counted" (and evidence): seen full
        self.closed: set[str] = set()   # window keys seen done (fired): no further writes for them

    @property
    def client(self) -> Any:
        return self._client or aws.client("dynamodb")

    def _update(self, entry: Entry, expires_at: int, with_counted: bool, with_evidence: bool) -> dict[str, Any] | None:
        adds = ["t :t"]
        condition = "attribute_not_exists(done_at)"
        values: dict[str, Any] = {":t": {"NS": [str(entry.second)]}, ":x": {"N": str(expires_at)}}
        if with_counted:
            adds.append("c :c")
            values[":c"] = {"SS": list(entry.counted)}
            if entry.cap:
                condition += " AND (attribute_not_exists(c) OR size(c) < :n)"
                values[":n"] = {"N": str(entry.cap)}
        if with_evidence:
            adds.append("e :e")
            condition += " AND (attribute_not_exists(e) OR size(e) < :cap)"
            values[":e"] = {"SS": [entry.evidence]}
            values[":cap"] = {"N": str(EVIDENCE_CAP)}
        self.writes += 1
        try:
            response = self.client.update_item(
                TableName=self.table, Key={"pk": {"S": entry.key}},
                UpdateExpression=f"ADD {', '.join(adds)} SET expires_at = :x", ConditionExpression=condition,
                ExpressionAttributeValues=values, ReturnValues="ALL_NEW", ReturnValuesOnConditionCheckFailure="ALL_OLD")
        except Exception as exc:  # botocore: a condition that failed, or denied, throttled, unreachable
            if aws.is_conditional_failure(exc):
                if "done_at" in (getattr(exc, "response", {}).get("Item") or {}):
                    self.closed.add(entry.key)  # fired in an earlier invocation: refuse its later matches here
                return None
            raise StateError(f"state table {self.table}: cannot count correlation: {aws.describe(exc)}") from None
        item: dict[str, Any] = response.get("Attributes", {})
        return item

    def add(self, entry: Entry, expires_at: int) -> WindowState | None:
        # refused when done, when the evidence is full, or when the count already meets the condition
        # (a window fired and not yet delivered): then add what still fits; only the times are refused
        # just when the window is done
        if entry.key in self.closed:
            return None
        attempts = [(True, True), (True, False), (False, False)]
        if entry.key in self.full:  # seen full by this instance: skip the updates bound to be refused
            attempts = [a for a in attempts if not (a[1] or (a[0] and self.full[entry.key] == "counted"))]
        for with_counted, with_evidence in attempts:
            item = self._update(entry, expires_at, with_counted, with_evidence)
            if entry.key in self.closed:
                return None
            if item is not None:
                state = _state(item)
                if entry.cap and len(state.counted) >= entry.cap:
                    self.full[entry.key] = "counted"
                elif len(state.evidence) >= EVIDENCE_CAP:
                    self.full[entry.key] = "evidence"
                return state
        return None

    def peek(self, key: str) -> WindowState | None:
        try:
            item = self.client.get_item(TableName=self.table, Key={"pk": {"S": key}}, ConsistentRead=True).get("Item")
        except Exception as exc:
            raise StateError(f"state table {self.table}: cannot read correlation window: {aws.describe(exc)}") from None
        return _state(item) if item and "done_at" not in item else None

    def prune(self, key: str, counted: set[str], times: set[int]) -> None:
        parts, values = [], {}
        if counted:
            parts.append("c :c")
            values[":c"] = {"SS": sorted(counted)}
        if times:
            parts.append("t :t")
            values[":t"] = {"NS": [str(n) for n in sorted(times)]}
        if not parts:
            return
        self.writes += 1
        try:  # never creates an item (a window gone or done needs no pruning)
            self.client.update_item(TableName=self.table, Key={"pk": {"S": key}},
                                    UpdateExpression="DELETE " + ", ".join(parts),
                                    ConditionExpression="attribute_exists(pk) AND attribute_not_exists(done_at)",
                                    ExpressionAttributeValues=values)
        except Exception as exc:  # botocore: a window gone or done (the condition), or a real failure
            if not aws.is_conditional_failure(exc):
                raise StateError(f"state table {self.table}: cannot prune correlation: {aws.describe(exc)}") from None

    def done(self, key: str, expires_at: int) -> None:
        self.writes += 1
        self.closed.add(key)
        try:
            self.client.update_item(
                TableName=self.table, Key={"pk": {"S": key}},
                UpdateExpression="SET done_at = :now, expires_at = :x",
                ExpressionAttributeValues={":now": {"N": str(int(self.clock()))}, ":x": {"N": str(expires_at)}})
        except Exception as exc:
            raise StateError(f"state table {self.table}: cannot mark correlation fired: {aws.describe(exc)}") from None
