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
import os
from dataclasses import dataclass
from typing import Any

from tattletail import aws, log, settings
from tattletail.config import loader as config_module
from tattletail.config import secrets
from tattletail.config.loader import Config
from tattletail.delivery import deadletter
from tattletail.delivery.dispatch import Dispatcher
from tattletail.delivery.retry import Deadline, RetryPolicy
from tattletail.delivery.state import DynamoState, MemoryState
from tattletail.engine import Engine
from tattletail.errors import ConfigError, InvocationFailed, SourceError, TattletailError
from tattletail.inputs.events import Item, S3Object, parse
from tattletail.inputs.logfile import NotCloudTrail, is_digest_key
from tattletail.pipeline import Report, evaluate, process_stream


@dataclass
class _Loaded:
    location: str
    etag: str | None
    config: Config
    engine: Engine


MISSING = "no such object"  # a Batch task's object that does not exist fails for good (``_batch_result``)

_loaded: _Loaded | None = None  # per container: reused across invocations while unchanged
_s3_client: Any = None


def _s3() -> Any:
    global _s3_client
    if _s3_client is None:
        _s3_client = aws.client("s3")
    return _s3_client


def current_config() -> tuple[Config, Engine]:
    """The config (and its engine), loaded once per container; an S3 config is re-read only when its
    ETag changed. An invalid config raises ``ConfigError``, except that a config in S3 that turns
    invalid keeps the last good one in use (and says so in the log)."""
    global _loaded
    location = settings.config_location()
    where = str(location)
    if not location.is_s3:
        if _loaded is None or _loaded.location != where:
            config = config_module.load(location.path or "", resolve=secrets.Resolver())
            _loaded = _Loaded(where, None, config, Engine(config.rules))
            log.emit("config_loaded", source=where, rules=len(config.rules))
        return _loaded.config, _loaded.engine
    from botocore.exceptions import ClientError

    kwargs = {"Bucket": location.bucket, "Key": location.key}
    if _loaded is not None and _loaded.location == where and _loaded.etag:
        kwargs["IfNoneMatch"] = _loaded.etag
    try:
        response = _s3().get_object(**kwargs)
    except ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status == 304 and _loaded is not None:
            return _loaded.config, _loaded.engine
        raise ConfigError([f"{where}: cannot read: {exc}"]) from None
    text = response["Body"].read().decode("utf-8", errors="replace")
    try:
        config = config_module.loads(text, where, settings.bundle_dir(),  # packs ship in the zip
                                     resolve=secrets.Resolver())
    except ConfigError as exc:
        if _loaded is None or _loaded.location != where:
            raise
        log.emit("config_invalid_kept_previous", logging.ERROR, source=where, etag=response.get("ETag"),
                 kept_etag=_loaded.etag, problems=exc.problems)
        return _loaded.config, _loaded.engine
    _loaded = _Loaded(where, response.get("ETag"), config, Engine(config.rules))
    log.emit("config_loaded", source=where, rules=len(config.rules), etag=response.get("ETag"))
    return config, _loaded.engine


def _dispatcher(config: Config, context: Any) -> Dispatcher:
    """Delivery for this invocation: state and dead letters from the environment, time from the context."""
    table = os.environ.get(settings.STATE_TABLE)
    dlq = os.environ.get(settings.DLQ_URL) or os.environ.get(settings.DLQ_S3)
    deadline = Deadline(context)  # a claim lasts until this deadline (plus a margin): see delivery.state
    return Dispatcher(config, state=DynamoState(table, time_left=deadline.remaining) if table else MemoryState(),
                      dead_letters=deadletter.open_store(dlq) if dlq else None,
                      policy=retry_policy, deadline=deadline)


retry_policy = RetryPolicy()  # module level so tests can shorten the waits


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    return response.get("Error", {}).get("Code", "") if isinstance(response, dict) else ""


def _process_object(obj: S3Object, config: Config, engine: Engine, dispatcher: Dispatcher) -> Report:
    """Read, evaluate and deliver one object. ``report.skipped``: nothing to do (digest, not CloudTrail,
    gone); ``report.error``: it can never be read (corrupt, truncated), retrying cannot help;
    ``report.failures``: something that may pass (access, throttling, network, delivery)."""
    report = Report(str(obj))
    if is_digest_key(obj.key):
        report.skipped = "CloudTrail digest file"
        return report
    try:
        body = _s3().get_object(Bucket=obj.bucket, Key=obj.key)["Body"]
    except Exception as exc:  # botocore's ClientError and connection errors alike
        if _error_code(exc) in ("NoSuchKey", "404", "NoSuchBucket"):
            report.skipped = f"{MISSING} (deleted since the event or manifest named it?): {exc}"
        else:
            report.failures.append(f"{obj}: cannot read: {exc}")
        return report
    try:
        process_stream(body, str(obj), config, engine, dispatcher=dispatcher, report=report)
    except NotCloudTrail as exc:
        report.skipped = str(exc)
    except SourceError as exc:
        report.error = str(exc)  # the records before the damage were handled
    except Exception as exc:  # the S3 stream dropped, or a bug: retry the object, never lose it
        report.failures.append(f"{obj}: failed: {type(exc).__name__}: {exc}")
    finally:
        body.close()
    return report


def _process_records(origin: str, records: list[dict[str, Any]], engine: Engine, dispatcher: Dispatcher) -> Report:
    """CloudTrail records that arrived on their own (EventBridge): the same rules and delivery."""
    report = Report(origin)
    batch = dispatcher.batch(origin, report)
    try:
        evaluate(records, engine, report, batch.add)
    finally:
        batch.flush()
    return report


@dataclass
class _Outcome:
    """How one item went: its reports, and the worst of what happened."""

    reports: list[Report]
    problem: str | None = None  # permanent: the item can never be processed

    @property
    def failures(self) -> list[str]:
        return [f for r in self.reports for f in r.failures]

    @property
    def errors(self) -> list[str]:
        return ([self.problem] if self.problem else []) + [r.error for r in self.reports if r.error]


def _process_item(item: Item, config: Config, engine: Engine, dispatcher: Dispatcher) -> _Outcome:
    for note in item.notes:
        log.emit("event_part_skipped", logging.WARNING, item=item.id, reason=note)
    if item.problem:
        log.emit("event_item_unreadable", logging.ERROR, item=item.id, error=item.problem)
        return _Outcome([], item.problem)
    reports = []
    for obj in item.objects:
        report = _process_object(obj, config, engine, dispatcher)
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
        report = _process_records(origin, records, engine, dispatcher)
        reports.append(report)
        level = logging.ERROR if report.failures else logging.INFO
        log.emit("records_processed", level, origin=origin, **report.fields())
    return _Outcome(reports)


def _totals(outcomes: list[_Outcome]) -> dict[str, int]:
    totals = dict.fromkeys(TOTALS, 0)
    for report in (r for o in outcomes for r in o.reports if not r.skipped):
        totals["objects"] += 1
        totals["records"] += report.records
        totals["matches"] += sum(report.matches.values())
        for name in TOTALS[3:]:
            totals[name] += getattr(report, name)
    return totals


def _batch_result(item: Item, outcome: _Outcome) -> dict[str, str]:
    def result(code: str, text: str) -> dict[str, str]:
        return {"taskId": item.id or "", "resultCode": code, "resultString": text[:1000]}

    if outcome.failures:
        return result("TemporaryFailure", "; ".join(outcome.failures))
    if outcome.errors:
        return result("PermanentFailure", "; ".join(outcome.errors))
    report = outcome.reports[0] if outcome.reports else None
    if report and report.skipped and report.skipped.startswith(MISSING):  # a backfill must not hide it
        return result("PermanentFailure", f"{report.name}: {report.skipped}")
    summary = (f"skipped: {report.skipped}" if report and report.skipped else
               f"{report.records} records, {sum(report.matches.values())} matches, {report.alerts_delivered} "
               f"alerts delivered, {report.duplicates} duplicates, {report.dead_lettered} dead-lettered"
               if report else "nothing to do")
    return result("Succeeded", summary)


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Process any event that brings CloudTrail to the function (see ``sources``).

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
        return dict.fromkeys(TOTALS, 0)
    try:
        config, engine = current_config()
    except TattletailError as exc:
        log.emit("invocation_failed", logging.ERROR, error=str(exc))
        raise
    dispatcher = _dispatcher(config, context)
    outcomes = [_process_item(item, config, engine, dispatcher) for item in parsed.items]
    totals = _totals(outcomes)
    log.emit("invocation_done", shape=parsed.shape, items=len(parsed.items), **totals)
    if parsed.shape == "batch":
        assert parsed.batch is not None
        return {**parsed.batch, "treatMissingKeysAs": "PermanentFailure",
                "results": [_batch_result(i, o) for i, o in zip(parsed.items, outcomes, strict=True)]}
    if parsed.shape == "sqs":
        retry_ids = [i.id for i, o in zip(parsed.items, outcomes, strict=True) if o.failures or o.problem]
        return {"batchItemFailures": [{"itemIdentifier": i} for i in retry_ids]}
    failures = [f for o in outcomes for f in o.failures]
    if failures:
        raise InvocationFailed(failures)
    return totals


TOTALS = ("objects", "records", "matches", "deliveries", "alerts_delivered", "duplicates", "digests", "dead_lettered")
