"""Records through the rules and out to the destinations: the one evaluation path.

The Lambda (``handler``), ``tattletail run``, ``replay``, ``render`` and ``test`` all evaluate records
here, with the ``Engine`` (prefilter, compiled Python, libjq) the Lambda runs, so a rule behaves the
same wherever it is tried. Delivery itself (retries, duplicates, digests, dead letters) is
``delivery.dispatch``; what happened is counted into one ``delivery.report.Report`` per object.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import IO, Any, cast

from tattletail import aws, log
from tattletail.correlation.correlator import Correlator
from tattletail.delivery.dispatch import Dispatcher
from tattletail.delivery.report import Report
from tattletail.engine import Engine
from tattletail.errors import NotCloudTrail, SourceError
from tattletail.inputs.history import LogRef
from tattletail.inputs.logfile import iter_records
from tattletail.rules import Match, Rule

OnMatch = Callable[[Match, int], None]


def evaluate(records: Iterable[dict[str, Any]], engine: Engine, report: Report, on_match: OnMatch,
             stop: Callable[[], bool] | None = None) -> bool:
    """Run every record through the engine, counting into ``report`` and showing each match (with its
    record's index) to ``on_match``. A rule's runtime error on a record counts as no match; the errors
    are summarised per rule (count, first message, first eventID) and logged once per rule at the end,
    so a rule failing on every record cannot flood the logs. ``stop`` is asked before each record; when
    it says so, the rest is not evaluated and ``False`` is returned."""

    def on_error(rule: Rule, record: dict[str, Any], message: str) -> None:
        event_id = record.get("eventID")
        report.rule_error(rule.name, message, event_id if isinstance(event_id, str) else None)

    try:
        for index, record in enumerate(records):
            if stop is not None and stop():
                return False
            report.records += 1
            for match in engine.evaluate(record, on_error):
                report.matches[match.rule.name] += 1
                on_match(match, index)
        return True
    finally:
        for rule, errors in report.rule_errors.items():
            log.emit("rule_errors", logging.WARNING, object=report.name, rule=rule, count=errors.count,
                     first_error=errors.first_message, first_event_id=errors.first_event_id)


BAD_RECORDS_LOGGED = 20  # bad records logged one by one per object; the rest are counted in one line


class _OutOfTime(Exception):
    """Raised from the reader's callbacks (a bad record, a megabyte read) when reading must stop
    (``stop_reading``)."""


class _Counted:
    """A stream that counts the bytes read from it (how far into an object reading got)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self.count += len(data)
        return data


def process_stream(stream: IO[bytes], report: Report, engine: Engine, *, dispatcher: Dispatcher | None = None,
                   on_match: OnMatch | None = None, correlator: Correlator | None = None) -> Report:
    """Evaluate one log object; show each match to ``on_match`` and hand it to ``dispatcher`` for delivery.
    What was read before damage in the object is still delivered; the ``SourceError`` is raised after.
    Reading watches the dispatcher's clock: when too little time is left to go on
    (``Dispatcher.stop_reading``), what was found is delivered and the object is a failure that says how
    far it got (so its item is retried; with a state table the retry sends only the rest)."""
    name = report.name
    stop = dispatcher.stop_reading if dispatcher is not None else None

    def check_time() -> None:
        if stop is not None and stop():
            raise _OutOfTime

    def bad_record(index: int, reason: str) -> None:
        report.bad_records += 1
        if report.bad_records <= BAD_RECORDS_LOGGED:
            log.emit("record_skipped", logging.WARNING, object=name, index=index, reason=reason)
        check_time()  # a file of nothing but bad records must stop in time too

    counted = _Counted(stream)
    try:
        # the reader checks the time every megabyte too: skipping one huge hostile value must stop in time
        finished = _process(iter_records(cast(IO[bytes], counted), name, bad_record, check=check_time), report, engine,
                            dispatcher, on_match, stop, correlator)
    except _OutOfTime:
        finished = False
    finally:
        if report.bad_records > BAD_RECORDS_LOGGED:
            log.emit("records_skipped", logging.WARNING, object=name, count=report.bad_records,
                     logged=BAD_RECORDS_LOGGED)
    if not finished:
        left = dispatcher.deadline.remaining() if dispatcher is not None else 0.0
        report.failures.append(f"{name}: not finished in time: {report.records} records evaluated, "
                               f"{counted.count} bytes of the object read, the rest not evaluated "
                               f"({left:.1f} s were left); retry")
        log.emit("object_incomplete", logging.ERROR, object=name, records=report.records,
                 bytes_read=counted.count, seconds_left=round(left, 1))
    return report


def process_records(records: Iterable[dict[str, Any]], report: Report, engine: Engine, *,
                    dispatcher: Dispatcher | None = None, on_match: OnMatch | None = None,
                    correlator: Correlator | None = None) -> Report:
    """Evaluate records (a log object's, or records that arrived on their own) and deliver the matches.
    With a ``correlator``, base-rule matches are counted into their correlations' windows too, and a
    correlation alert they complete is shown and delivered like a match (``tattletail.correlation``)."""
    _process(records, report, engine, dispatcher, on_match, None, correlator)
    return report


def _process(records: Iterable[dict[str, Any]], report: Report, engine: Engine, dispatcher: Dispatcher | None,
             on_match: OnMatch | None, stop: Callable[[], bool] | None, correlator: Correlator | None = None) -> bool:
    """Evaluate, then deliver what was found (also when reading stopped early or failed)."""
    deliveries = dispatcher.for_object(report) if dispatcher is not None else None

    def handle(match: Match, index: int) -> None:
        if on_match is not None:
            on_match(match, index)
        if deliveries is not None:
            deliveries.add(match, index)
        if correlator is not None and correlator.uses(match.rule.name):
            for fired in correlator.observe(match):
                report.matches[fired.rule.name] += 1
                handle(fired, index)

    completed = False
    try:
        finished = evaluate(records, engine, report, handle, stop)
        completed = finished
        return finished
    finally:
        if deliveries is not None:
            deliveries.flush()
        if correlator is not None:  # fired windows close once their alerts are delivered (or kept)
            correlator.settle(completed and not report.failures, report)


def process_ref(ref: LogRef, engine: Engine, *, dispatcher: Dispatcher | None = None,
                on_match: OnMatch | None = None, s3: Any = None, correlator: Correlator | None = None) -> Report:
    """One file of history (local or S3) through ``process_stream``, its outcome in the report rather than
    raised: ``skipped`` (not CloudTrail), ``error`` (unreadable, corrupt). A local file holding records on their
    own (a record, an EventBridge event, ``lookup-events`` output) is evaluated as those records."""
    report = Report(ref.name)
    try:
        with ref.open(s3) as stream:
            process_stream(stream, report, engine, dispatcher=dispatcher, on_match=on_match, correlator=correlator)
    except NotCloudTrail as exc:
        try:
            records = ref.standalone_records()
        except SourceError as problem:
            report.error = str(problem)
            return report
        if records is None:
            report.skipped = str(exc)
        else:
            process_records(records, report, engine, dispatcher=dispatcher, on_match=on_match,
                            correlator=correlator)
    except SourceError as exc:
        report.error = str(exc)
    except OSError as exc:
        report.error = f"{ref.name}: {exc.strerror or exc}"
    except Exception as exc:  # S3 errors (access denied, missing object) name the file and go on
        report.error = f"{ref.name}: {aws.describe(exc)}"
    return report
