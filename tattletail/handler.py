"""The Lambda entry point: wires sources, config, engine and delivery; nothing else.

``lambda_handler(event, context)`` takes any event that brings CloudTrail (``sources``), reads each log
object or record, evaluates it and delivers every match (``delivery``). Everything is attempted. An
item succeeds when every alert was delivered, skipped as a duplicate, or kept as a dead letter; it
fails when something was neither, so that it is retried: the invocation raises (S3, SNS,
EventBridge), the SQS message is listed in ``batchItemFailures``, or the Batch task is a
``TemporaryFailure``. What can never be read is logged (and a ``PermanentFailure`` for a Batch task).
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import replace
from typing import Any

from tattletail import aws, log, settings
from tattletail.config import current
from tattletail.config.loader import Config
from tattletail.correlation.correlator import Correlator
from tattletail.correlation.state import DynamoWindows, MemoryWindows
from tattletail.delivery import deadletter
from tattletail.delivery.dispatch import Dispatcher
from tattletail.delivery.report import Report, Totals
from tattletail.delivery.retry import Deadline, RetryPolicy
from tattletail.delivery.state import DynamoState, MemoryState
from tattletail.engine import Engine
from tattletail.errors import InvocationFailed, NotCloudTrail, SourceError, TattletailError
from tattletail.inputs.events import Item, S3Object, parse
from tattletail.inputs.logfile import is_digest_key
from tattletail.pipeline import process_records, process_stream


def _dispatcher(config: Config, context: Any) -> Dispatcher:
    """Delivery for this invocation: state and dead letters from the environment, time from the context."""
    table = os.environ.get(settings.STATE_TABLE)
    dlq = os.environ.get(settings.DLQ_URL) or os.environ.get(settings.DLQ_S3)
    deadline = Deadline(context)  # a claim lasts until this deadline (plus a margin): see delivery.state
    # The reserve (time kept for dead letters and logs) is at most a quarter of what the invocation has:
    # a fixed 10 s would leave a function with a 10 s timeout no time to send anything at all.
    policy = replace(retry_policy, reserve=min(retry_policy.reserve, deadline.remaining() / 4))
    return Dispatcher(config, state=DynamoState(table, time_left=deadline.remaining) if table else MemoryState(),
                      dead_letters=deadletter.open_store(dlq, deadline.remaining) if dlq else None,
                      policy=policy, deadline=deadline)


retry_policy = RetryPolicy()  # module level so tests can shorten the waits
clock = time.time             # module level so tests can move the correlations' lateness clock
MISSING = "no such object"  # a skipped object that a Batch task must report as a PermanentFailure


def _correlator(config: Config) -> Correlator | None:
    """Correlation windows in the state table (across invocations), or within this invocation only."""
    if not config.correlations:
        return None
    table = os.environ.get(settings.STATE_TABLE)
    windows = DynamoWindows(table) if table else MemoryWindows()
    return Correlator(config.correlations, windows, clock=lambda: clock())


def _reader(dispatcher: Dispatcher) -> Any:
    """The S3 client that reads log objects: its connect and read timeouts fit in the time left, so a
    stalled read cannot carry the invocation past its end (botocore's defaults are 60 s each)."""
    left = dispatcher.deadline.remaining()
    if math.isinf(left):
        return aws.client("s3")
    return aws.Clients("s3", attempts=2).get(max(left - dispatcher.policy.reserve, 1.0))


def _process_object(obj: S3Object, engine: Engine, dispatcher: Dispatcher, correlator: Correlator | None) -> Report:
    """Read, evaluate and deliver one object. ``report.skipped``: nothing to do (digest, not CloudTrail,
    gone); ``report.error``: it can never be read (corrupt, truncated), retrying cannot help;
    ``report.failures``: something that may pass (access, throttling, network, delivery)."""
    report = Report(str(obj))
    if is_digest_key(obj.key):
        report.skipped = "CloudTrail digest file"
        return report
    try:
        body = _reader(dispatcher).get_object(**obj.get_args())["Body"]
    except Exception as exc:  # botocore's ClientError and connection errors alike
        if aws.is_missing(exc):  # skipped; but a Batch task must not hide it (``_batch_result``)
            report.skipped = f"{MISSING} (deleted since the event or manifest named it?): {aws.describe(exc)}"
        else:
            report.failures.append(f"{obj}: cannot read: {aws.describe(exc)}")
        return report
    try:
        process_stream(body, report, engine, dispatcher=dispatcher, correlator=correlator)
    except NotCloudTrail as exc:
        report.skipped = str(exc)
    except SourceError as exc:
        report.error = str(exc)  # the records before the damage were handled
    except Exception as exc:  # the S3 stream dropped, or a bug: retry the object, never lose it
        report.failures.append(f"{obj}: failed: {type(exc).__name__}: {exc}")
    finally:
        body.close()
    return report


def _process_item(item: Item, engine: Engine, dispatcher: Dispatcher, correlator: Correlator | None) -> list[Report]:
    """Every object and record of one item, a report each. An item that cannot be read at all is one
    report with its ``error``."""
    for note in item.notes:
        log.emit("event_part_skipped", logging.WARNING, item=item.id, reason=note)
    if item.problem:
        log.emit("event_item_unreadable", logging.ERROR, item=item.id, error=item.problem)
        return [Report(item.id or "event item", error=item.problem)]
    reports = []
    for obj in item.objects:
        report = _process_object(obj, engine, dispatcher, correlator)
        reports.append(report)
        if report.skipped:
            log.emit("object_skipped", bucket=obj.bucket, key=obj.key, reason=report.skipped)
            continue
        level = logging.ERROR if report.error or report.failures else logging.INFO
        log.emit("object_processed", level, bucket=obj.bucket, key=obj.key, **report.fields())
    by_origin: dict[str, list[dict[str, Any]]] = {}
    for origin, record in item.records:
        by_origin.setdefault(origin, []).append(record)
    for origin, records in by_origin.items():
        report = process_records(records, Report(origin), engine, dispatcher=dispatcher, correlator=correlator)
        reports.append(report)
        level = logging.ERROR if report.failures else logging.INFO
        log.emit("records_processed", level, origin=origin, **report.fields())
    return reports


def _batch_result(item: Item, reports: list[Report]) -> dict[str, str]:
    """An S3 Batch Operations task's result: retry what may pass, give up on what never will."""
    def result(code: str, text: str) -> dict[str, str]:
        return {"taskId": item.id or "", "resultCode": code, "resultString": text[:1000]}

    failures = [f for r in reports for f in r.failures]
    errors = [r.error for r in reports if r.error]
    if failures:
        return result("TemporaryFailure", "; ".join(failures))
    if errors:
        return result("PermanentFailure", "; ".join(errors))
    missing = [r for r in reports if r.skipped and r.skipped.startswith(MISSING)]
    if missing:  # a backfill's completion report must show what was never scanned
        return result("PermanentFailure", "; ".join(f"{r.name}: {r.skipped}" for r in missing))
    return result("Succeeded", reports[0].summary() if reports else "nothing to do")


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Process any event that brings CloudTrail to the function (see ``inputs.events``).

    S3 / SNS / EventBridge: returns totals, or raises after trying everything if something was neither
    delivered nor dead-lettered, so that Lambda retries (delivered alerts are then skipped).
    SQS: returns ``batchItemFailures`` naming the messages to retry alone.
    S3 Batch Operations: returns a result per task (Succeeded, TemporaryFailure, PermanentFailure)."""
    log.setup(os.environ.get(settings.LOG_LEVEL, "INFO"))
    try:
        parsed = parse(event)
    except SourceError as exc:
        log.emit("invocation_failed", logging.ERROR, error=str(exc))
        raise
    if parsed.shape == "s3-test":
        log.emit("s3_test_event_ignored", bucket=event.get("Bucket"))
        return Totals().fields()
    try:
        loaded = current.current()
    except TattletailError as exc:
        log.emit("invocation_failed", logging.ERROR, error=str(exc))
        raise
    dispatcher = _dispatcher(loaded.config, context)
    correlator = _correlator(loaded.config)
    per_item = [_process_item(item, loaded.engine, dispatcher, correlator) for item in parsed.items]
    totals = Totals()
    for report in (r for reports in per_item for r in reports):
        totals.add(report)
    log.emit("invocation_done", shape=parsed.shape, items=len(parsed.items), **totals.fields())
    if parsed.shape == "batch":
        assert parsed.batch is not None
        return {**parsed.batch, "treatMissingKeysAs": "PermanentFailure",
                "results": [_batch_result(i, r) for i, r in zip(parsed.items, per_item, strict=True)]}
    if parsed.shape == "sqs":
        retry_ids = [i.id for i, reports in zip(parsed.items, per_item, strict=True)
                     if any(r.failures or (i.problem and r.error) for r in reports)]
        return {"batchItemFailures": [{"itemIdentifier": i} for i in retry_ids]}
    if totals.failures:
        raise InvocationFailed(totals.failures)
    return totals.fields()
