"""Where a base-rule match counts (correlation, group, window) and when a window's condition is met.

A match becomes an ``Entry``: the window's key, its *counted* members, its event second and an
*evidence* member. Counted members are what the condition counts, made so that adding the same record
twice (a duplicate notification, a retried invocation) changes nothing:

- ``event_count``: the record's identity (a 16-hex-digit hash of ``state.record_key``); with a
  ``weight`` (a DeleteObjects call deletes many objects), ``weight`` members made from it;
- ``value_count``: the value of ``field``; CloudTrail's ``HIDDEN_DUE_TO_SECURITY_REASONS`` (the user
  name of a failed sign-in as a user that does not exist) is one value per *record*, never one for all:
  each hides a name we cannot see, and counting them as one would let a sprayer of unknown names through;
- ``temporal``: the index of the base rule that matched;
- ``temporal_ordered``: ``index|second``, the rule and its event second: the order is decided on
  these, never on the capped evidence, so a flood of one rule cannot hide the sequence (seconds are
  rounded down to ``model.order_resolution``, 1 unless the timespan is long, to bound the item).

The group always includes the record's ``recipientAccountId``: the same principal ARN or address in
two accounts is two groups (a region, where it matters, is a ``group_by`` path: ``.awsRegion``).

Every entry also adds its event second to the window's *times*: the alert's first and last event time
are their min and max, whatever the evidence cap kept. Times, and the ``temporal_ordered`` members of
the first rule (only the earliest matters) and of the last rule (only the latest matters), are pruned
to what still decides anything (``prunable``), so they stay small.

Evidence members (``eventTime|rule|eventID|eventName|who|value``) are the alert's samples; a window
keeps at most ``EVIDENCE_CAP`` of them, so its item stays small whatever the flood. They decide nothing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from tattletail.alerts.facts import identity, parse_time
from tattletail.correlation.model import MAX_TIMESPAN, Correlation, member_text, order_resolution
from tattletail.delivery.state import record_key

EVIDENCE_CAP = 25   # samples only: an item stays near 10 KB at most (DynamoDB bills a write per KB of the item)
PRUNE_AT = 8        # times (or first/last-rule order members) kept before the dominated ones are dropped
SEP = "\x1f"  # between the parts of an evidence member: never in CloudTrail's text fields
HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"
ACCOUNT = "account"  # the group's name for recipientAccountId


@dataclass(frozen=True)
class Entry:
    """One base-rule match, placed: ``key`` names (correlation, group, window)."""

    key: str
    start: int                          # window start, epoch seconds
    group: tuple[tuple[str, Any], ...]  # (group_by name, value), the account first when the record has one
    counted: tuple[str, ...]
    evidence: str
    second: int = 0                     # the record's event time, epoch seconds
    cap: int = 0                        # counted members worth keeping (0: no cap)


@dataclass
class WindowState:
    """What the state holds for one window after an addition."""

    counted: set[str]
    evidence: set[str]
    times: set[int]


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


LAST_SECOND = int(datetime(9999, 12, 31, tzinfo=UTC).timestamp())  # a window starting later could not be printed


def event_seconds(record: dict[str, Any]) -> float | None:
    """The record's event time in epoch seconds; ``None`` when unreadable or so far out (year 9999,
    before 1970) that its window could not be named: such a record is unplaced, counted, never fatal."""
    moment = parse_time(record.get("eventTime"))
    if moment is None:
        return None
    seconds = moment.timestamp()
    return seconds if 0 <= seconds < LAST_SECOND - 2 * MAX_TIMESPAN else None


def _weight(correlation: Correlation, record: dict[str, Any]) -> int:
    """How many events one record stands for (``weight``): a positive integer, else 1; never more than
    the condition needs (members past it change nothing, and would only grow the item)."""
    if correlation.weight is None:
        return 1
    value = correlation.weight.value(record)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 1 <= value < float("inf"):
        return 1  # not a positive finite number (NaN, 1e1000 read as infinity): the record is one event
    return min(int(value), correlation.needed)


def place(correlation: Correlation, rule: str, record: dict[str, Any]) -> Entry | str:
    """The entry of one match of ``rule`` (a base rule of ``correlation``), or why it counts nowhere."""
    seconds = event_seconds(record)
    if seconds is None:
        return "no readable eventTime (missing, malformed or out of range)"
    start = int(seconds // correlation.timespan) * correlation.timespan
    account = record.get("recipientAccountId")
    group: list[tuple[str, Any]] = [(ACCOUNT, account)] if isinstance(account, str) and account else []
    for key in correlation.group_by:
        value = key.value(rule, record)
        if value is None:
            return f"no value for group_by {key.name}"
        group.append((key.name, value))
    index = correlation.rules.index(rule)
    identity_hash = hashlib.sha256(record_key(record).encode()).hexdigest()[:16]
    value_text = ""
    counted: tuple[str, ...]
    if correlation.type == "event_count":
        counted = (identity_hash,) + tuple(f"{identity_hash}#{n}" for n in range(1, _weight(correlation, record)))
    elif correlation.type == "value_count":
        assert correlation.field is not None
        value = correlation.field.value(record)
        if value is None:
            return f"no value for field {correlation.field.text}"
        value_text = member_text(value)
        counted = (f"{HIDDEN}#{identity_hash[:8]}" if value == HIDDEN else value_text,)
    elif correlation.type == "temporal":
        counted = (str(index),)
    else:
        step = order_resolution(correlation)
        counted = (f"{index}|{int(seconds) // step * step}",)
    digest = window_digest(correlation, tuple(group), start)
    event_id = record.get("eventID") if isinstance(record.get("eventID"), str) else identity_hash
    parts = [str(record.get("eventTime")), str(index), str(event_id), str(record.get("eventName") or "-"),
             identity(record).display() or "-", value_text]
    evidence = SEP.join(part.replace(SEP, " ") for part in parts)
    evidence = evidence.encode("utf-8", "surrogatepass")[:512].decode("utf-8", "ignore")  # bytes: what the item holds
    cap = correlation.needed if correlation.type in ("event_count", "value_count") else 0
    return Entry(f"correlation|{digest}", start, tuple(group), counted, evidence, int(seconds), cap)


def window_digest(correlation: Correlation, group: tuple[tuple[str, Any], ...], start: int) -> str:
    group_text = json.dumps(group, separators=(",", ":"), sort_keys=True, default=str)
    return hashlib.sha256(f"{correlation.name}\n{group_text}\n{start}".encode()).hexdigest()[:32]


def window_key(correlation: Correlation, group: tuple[tuple[str, Any], ...], start: int) -> str:
    return f"correlation|{window_digest(correlation, group, start)}"


def offset(correlation: Correlation) -> int:
    """Where the second series of windows starts: half a timespan after the aligned one."""
    return correlation.timespan // 2


def shifted(correlation: Correlation, entry: Entry) -> Entry:
    """The same match in the second series of windows (starts at ``offset`` past the aligned ones):
    with both, any burst within half a timespan lies whole in one window, wherever the edges fall."""
    half = offset(correlation)
    start = (entry.second - half) // correlation.timespan * correlation.timespan + half
    return replace(entry, key=window_key(correlation, entry.group, start), start=start)


def overlapping(correlation: Correlation, entry: Entry) -> list[str]:
    """The keys of the windows of the other series overlapping the window of ``entry``: once it fired,
    they are closed too, so one burst gives one alert."""
    half = offset(correlation)
    return [window_key(correlation, entry.group, entry.start - half),
            window_key(correlation, entry.group, entry.start + correlation.timespan - half)]


@dataclass(frozen=True)
class Evidence:
    time: str
    rule: int
    event_id: str
    event_name: str
    who: str
    value: str

    @classmethod
    def parse(cls, member: str) -> Evidence:
        parts = (member.split(SEP) + [""] * 6)[:6]
        return cls(parts[0], int(parts[1]) if parts[1].isdigit() else -1, *parts[2:])

    def line(self) -> str:
        text = f"{self.time} {self.event_name} by {self.who} (eventID {self.event_id})"
        return text + (f": {self.value}" if self.value else "")


def evidence(state: WindowState) -> list[Evidence]:
    """The window's evidence in event-time order (ties by eventID: the same order wherever computed)."""
    found = [Evidence.parse(m) for m in state.evidence]
    return sorted(found, key=lambda e: (parse_time(e.time) or datetime.min.replace(tzinfo=UTC), e.event_id))


def _order(state: WindowState) -> dict[int, list[int]]:
    """``temporal_ordered`` members as rule index -> its event seconds, sorted."""
    by_rule: dict[int, list[int]] = {}
    for member in state.counted:
        rule, _, second = member.partition("|")
        if rule.isdigit() and second.lstrip("-").isdigit():
            by_rule.setdefault(int(rule), []).append(int(second))
    return {rule: sorted(seconds) for rule, seconds in by_rule.items()}


def count(correlation: Correlation, state: WindowState) -> int:
    """What the condition compares: events, distinct values, or base rules seen (in order)."""
    if correlation.type != "temporal_ordered":
        return len(state.counted)
    # greedy: the earliest match of rule 0, then the earliest of rule 1 not before it, ... (exact: any
    # sequence can be moved onto the earliest candidates)
    order = _order(state)
    seen, at = 0, None
    for index in range(len(correlation.rules)):
        later = [s for s in order.get(index, ()) if at is None or s >= at]
        if not later:
            break
        seen, at = seen + 1, later[0]
    return seen


def met(correlation: Correlation, state: WindowState) -> bool:
    return count(correlation, state) >= correlation.needed


def prunable(correlation: Correlation, state: WindowState) -> tuple[set[str], set[int]]:
    """Members that no longer decide anything, once there are more than ``PRUNE_AT`` of a kind: times
    other than the min and the max, and ``temporal_ordered`` members of the first rule other than its
    earliest and of the last rule other than its latest. Dropping them is safe under concurrency: what
    is dropped is dominated by a member that stays, and members added meanwhile are not named."""
    times: set[int] = set()
    if len(state.times) > PRUNE_AT:
        times = state.times - {min(state.times), max(state.times)}
    counted: set[str] = set()
    if correlation.type == "temporal_ordered":
        order = _order(state)
        last = len(correlation.rules) - 1
        for rule, keep in ((0, 0), (last, -1)):
            seconds = order.get(rule, [])
            if len(seconds) > PRUNE_AT:
                counted |= {f"{rule}|{s}" for s in seconds if s != seconds[keep]}
    return counted, times
