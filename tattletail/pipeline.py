"""One log object through the rules and out to the destinations, with an account of what happened.

Shared by the Lambda handler and the command line, so both evaluate and deliver the same way.
Every match goes to every destination of its rule; a failing destination never stops the others,
and each failure is recorded (and logged) by destination id, never by secret.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import IO, Any

from tattletail import log
from tattletail.alert import Alert
from tattletail.cloudtrail import iter_records
from tattletail.config import Config
from tattletail.engine import Engine
from tattletail.errors import DeliveryError
from tattletail.rules import Match, Rule


@dataclass
class Report:
    """What happened to one log object."""

    name: str
    records: int = 0
    matches: Counter[str] = field(default_factory=Counter)
    rule_errors: Counter[str] = field(default_factory=Counter)
    bad_records: int = 0
    deliveries: int = 0
    failures: list[str] = field(default_factory=list)
    error: str | None = None
    started: float = field(default_factory=time.monotonic)

    def fields(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "matches": dict(self.matches),
            "rule_errors": dict(self.rule_errors),
            "bad_records": self.bad_records,
            "deliveries": self.deliveries,
            "failures": self.failures,
            "error": self.error,
            "duration_ms": round((time.monotonic() - self.started) * 1000, 1),
        }


def make_alert(match: Match) -> Alert:
    """The alert for a match; a title or field program that fails is logged and left out."""

    def on_error(rule: Rule, what: str, message: str) -> None:
        log.emit("presentation_error", logging.WARNING, rule=rule.name, part=what,
                 event_id=match.record.get("eventID"), error=message)

    return Alert.of(match, on_error)


def deliver(config: Config, match: Match, report: Report) -> None:
    """Send one match to each destination of its rule; record every failure, stop at none."""
    destinations = config.destinations_of(match.rule)
    alert = make_alert(match) if destinations else None
    for destination in destinations:
        try:
            destination.send(alert)  # type: ignore[arg-type]
        except DeliveryError as exc:
            report.failures.append(str(exc))
            log.emit("delivery_failed", logging.ERROR, rule=match.rule.name, destination=destination.id,
                     event_id=match.record.get("eventID"), error=str(exc))
        else:
            report.deliveries += 1


def evaluate(records: Iterable[dict[str, Any]], engine: Engine, report: Report,
             on_match: Callable[[Match, int], None]) -> None:
    """Run every record through the engine, counting into ``report``; a rule's runtime error on a
    record is logged with the rule and eventID and counts as no match."""

    def on_error(rule: Rule, record: dict[str, Any], message: str) -> None:
        report.rule_errors[rule.name] += 1
        log.emit("rule_error", logging.WARNING, object=report.name, rule=rule.name,
                 event_id=record.get("eventID"), error=message)

    for index, record in enumerate(records):
        report.records += 1
        for match in engine.evaluate(record, on_error):
            report.matches[match.rule.name] += 1
            on_match(match, index)


def process_stream(stream: IO[bytes], name: str, config: Config, engine: Engine, *, send: bool = True,
                   on_match: Callable[[Match, int], None] | None = None) -> Report:
    """Evaluate one log object; show each match (with its record's index in the file) to ``on_match``
    and, when ``send``, deliver it.
    Raises ``SourceError`` for unreadable content after handling what was read before it."""
    report = Report(name)

    def bad_record(index: int, reason: str) -> None:
        report.bad_records += 1
        log.emit("record_skipped", logging.WARNING, object=name, index=index, reason=reason)

    def handle(match: Match, index: int) -> None:
        if on_match is not None:
            on_match(match, index)
        if send:
            deliver(config, match, report)

    evaluate(iter_records(stream, name, bad_record), engine, report, handle)
    return report
