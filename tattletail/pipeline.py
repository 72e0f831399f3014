"""One log object through the rules and out to the destinations, with an account of what happened.

Shared by the Lambda handler and the command line, so both evaluate and deliver the same way
(delivery itself, with its retries, duplicates, digests and dead letters, is ``delivery``).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import IO, Any, cast

from tattletail import log
from tattletail.config.loader import Config
from tattletail.delivery.dispatch import Dispatcher
from tattletail.engine import Engine
from tattletail.inputs.logfile import iter_records
from tattletail.rules import Match, Rule


@dataclass
class Report:
    """What happened to one log object."""

    name: str
    records: int = 0
    matches: Counter[str] = field(default_factory=Counter)
    rule_errors: Counter[str] = field(default_factory=Counter)
    bad_records: int = 0
    deliveries: int = 0           # messages sent (an alert, or a digest of many)
    alerts_delivered: int = 0     # (record, rule, destination) delivered, digests counted per member
    duplicates: int = 0           # skipped: delivered before, or twice in this object
    digests: int = 0
    dead_lettered: int = 0
    failures: list[str] = field(default_factory=list)   # neither delivered nor dead-lettered
    error: str | None = None      # the object cannot be read, ever (corrupt, truncated)
    skipped: str | None = None    # nothing to do: a digest file, not CloudTrail, gone
    started: float = field(default_factory=time.monotonic)

    def fields(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "matches": dict(self.matches),
            "rule_errors": dict(self.rule_errors),
            "bad_records": self.bad_records,
            "deliveries": self.deliveries,
            "alerts_delivered": self.alerts_delivered,
            "duplicates": self.duplicates,
            "digests": self.digests,
            "dead_lettered": self.dead_lettered,
            "failures": self.failures,
            "error": self.error,
            "duration_ms": round((time.monotonic() - self.started) * 1000, 1),
        }


def evaluate(records: Iterable[dict[str, Any]], engine: Engine, report: Report,
             on_match: Callable[[Match, int], None], stop: Callable[[], bool] | None = None) -> bool:
    """Run every record through the engine, counting into ``report``; a rule's runtime error on a
    record is logged with the rule and eventID and counts as no match. ``stop`` is asked before each
    record; when it says so, the rest is not evaluated and ``False`` is returned."""

    def on_error(rule: Rule, record: dict[str, Any], message: str) -> None:
        report.rule_errors[rule.name] += 1
        log.emit("rule_error", logging.WARNING, object=report.name, rule=rule.name,
                 event_id=record.get("eventID"), error=message)

    for index, record in enumerate(records):
        if stop is not None and stop():
            return False
        report.records += 1
        for match in engine.evaluate(record, on_error):
            report.matches[match.rule.name] += 1
            on_match(match, index)
    return True


class _Counted:
    """A stream that counts the bytes read from it (how far into an object reading got)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self.count += len(data)
        return data


def process_stream(stream: IO[bytes], name: str, config: Config, engine: Engine, *,
                   dispatcher: Dispatcher | None = None, on_match: Callable[[Match, int], None] | None = None,
                   report: Report | None = None) -> Report:
    """Evaluate one log object; show each match (with its record's index in the file) to ``on_match``
    and hand it to ``dispatcher`` for delivery. What was read before damage in the object is still
    delivered; the ``SourceError`` is raised after. Reading watches the dispatcher's clock: when too
    little time is left to go on (``Dispatcher.stop_reading``), what was found is delivered and the
    object is a failure that says how far it got (so its item is retried)."""
    report = report or Report(name)

    def bad_record(index: int, reason: str) -> None:
        report.bad_records += 1
        log.emit("record_skipped", logging.WARNING, object=name, index=index, reason=reason)

    batch = dispatcher.batch(name, report) if dispatcher is not None else None

    def handle(match: Match, index: int) -> None:
        if on_match is not None:
            on_match(match, index)
        if batch is not None:
            batch.add(match, index)

    counted = _Counted(stream)
    stop = dispatcher.stop_reading if dispatcher is not None else None
    try:
        if not evaluate(iter_records(cast(IO[bytes], counted), name, bad_record), engine, report, handle, stop):
            # What was found is delivered below; the rest waits for a retry (delivered keys are skipped).
            left = dispatcher.deadline.remaining() if dispatcher is not None else 0.0
            report.failures.append(f"{name}: not finished in time: {report.records} records evaluated, "
                                   f"{counted.count} bytes of the object read, the rest not evaluated "
                                   f"({left:.1f} s were left); retry")
            log.emit("object_incomplete", logging.ERROR, object=name, records=report.records,
                     bytes_read=counted.count, seconds_left=round(left, 1))
    finally:
        if batch is not None:
            batch.flush()
    return report
