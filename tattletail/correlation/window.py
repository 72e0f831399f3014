"""Where a base-rule match counts (correlation, group, window) and when a window's condition is met.

A match becomes an ``Entry``: the window's key, a *counted* member and an *evidence* member. Counted
members are what the condition counts, made so that adding the same record twice (a duplicate
notification, a retried invocation) changes nothing:

- ``event_count``: the record's identity (a 16-hex-digit hash of ``state.record_key``);
- ``value_count``: the value of ``field``;
- ``temporal`` / ``temporal_ordered``: the index of the base rule that matched.

Evidence members (``eventTime|rule|eventID|eventName|who|value``) tell the alert's reader what was
counted (first and last event time, samples) and decide ``temporal_ordered``; a window keeps at most
``EVIDENCE_CAP`` of them, so its item stays small whatever the flood.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tattletail.alerts.facts import identity, parse_time
from tattletail.correlation.model import Correlation, member_text
from tattletail.delivery.state import record_key

EVIDENCE_CAP = 25   # an item stays near 10 KB at most (DynamoDB bills a write per KB of the item)
SEP = "\x1f"  # between the parts of an evidence member: never in CloudTrail's text fields


@dataclass(frozen=True)
class Entry:
    """One base-rule match, placed: ``key`` names (correlation, group, window)."""

    key: str
    start: int                          # window start, epoch seconds
    group: tuple[tuple[str, Any], ...]  # (group_by name, value)
    counted: str
    evidence: str


@dataclass
class WindowState:
    """What the state holds for one window after an addition."""

    counted: set[str]
    evidence: set[str]


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def event_seconds(record: dict[str, Any]) -> float | None:
    moment = parse_time(record.get("eventTime"))
    return moment.timestamp() if moment is not None else None


def place(correlation: Correlation, rule: str, record: dict[str, Any]) -> Entry | str:
    """The entry of one match of ``rule`` (a base rule of ``correlation``), or why it counts nowhere."""
    seconds = event_seconds(record)
    if seconds is None:
        return "no readable eventTime"
    start = int(seconds // correlation.timespan) * correlation.timespan
    group = []
    for key in correlation.group_by:
        value = key.value(rule, record)
        if value is None:
            return f"no value for group_by {key.name}"
        group.append((key.name, value))
    index = correlation.rules.index(rule)
    identity_hash = hashlib.sha256(record_key(record).encode()).hexdigest()[:16]
    value_text = ""
    if correlation.type == "event_count":
        counted = identity_hash
    elif correlation.type == "value_count":
        assert correlation.field is not None
        value = correlation.field.value(record)
        if value is None:
            return f"no value for field {correlation.field.text}"
        counted = value_text = member_text(value)
    else:
        counted = str(index)
    group_text = json.dumps(group, separators=(",", ":"), sort_keys=True, default=str)
    digest = hashlib.sha256(f"{correlation.name}\n{group_text}\n{start}".encode()).hexdigest()[:32]
    event_id = record.get("eventID") if isinstance(record.get("eventID"), str) else identity_hash
    parts = [str(record.get("eventTime")), str(index), str(event_id), str(record.get("eventName") or "-"),
             identity(record).display() or "-", value_text]
    evidence = SEP.join(part.replace(SEP, " ") for part in parts)[:512]
    return Entry(f"correlation|{digest}", start, tuple(group), counted, evidence)


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


def count(correlation: Correlation, state: WindowState) -> int:
    """What the condition compares: events, distinct values, or base rules seen (in order)."""
    if correlation.type != "temporal_ordered":
        return len(state.counted)
    # greedy: the earliest match of rule 0, then the earliest of rule 1 not before it, ...
    seen, at = 0, None
    ordered = evidence(state)
    for index in range(len(correlation.rules)):
        later = [e for e in ordered if e.rule == index and (at is None or _not_before(e.time, at))]
        if not later:
            break
        seen, at = seen + 1, later[0].time
    return seen


def _not_before(time: str, other: str) -> bool:
    a, b = parse_time(time), parse_time(other)
    return a is not None and b is not None and a >= b


def met(correlation: Correlation, state: WindowState) -> bool:
    return count(correlation, state) >= correlation.needed
