"""The Lambda entry point: wires sources, config, engine and delivery; nothing else.

``lambda_handler(event, context)`` reads each S3 object of the event, evaluates its records and
delivers every match (``delivery``). All objects and all deliveries are attempted. The invocation
succeeds when every alert was delivered, skipped as a duplicate, or kept as a dead letter; it fails
(naming each failure) when something was neither, so that Lambda retries it.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

from tattletail import config as config_module
from tattletail import deadletter, log, settings
from tattletail.cloudtrail import NotCloudTrail, is_digest_key
from tattletail.config import Config
from tattletail.delivery import Dispatcher
from tattletail.destinations import aws
from tattletail.engine import Engine
from tattletail.errors import ConfigError, InvocationFailed, SourceError, TattletailError
from tattletail.pipeline import Report, process_stream
from tattletail.retry import Deadline, RetryPolicy
from tattletail.sources import S3Object, is_s3_test_event, s3_objects
from tattletail.state import LEASE_SECONDS, DynamoState, MemoryState


@dataclass
class _Loaded:
    location: str
    etag: str | None
    config: Config
    engine: Engine


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
            config = config_module.load(location.path or "")
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
        config = config_module.loads(text, where, settings.bundle_dir())  # packs ship in the zip
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
    deadline = Deadline(context)
    lease = int(min(deadline.remaining(), LEASE_SECONDS)) + 60  # a claim outlives this invocation by a minute
    return Dispatcher(config, state=DynamoState(table, lease=lease) if table else MemoryState(),
                      dead_letters=deadletter.open_store(dlq) if dlq else None,
                      policy=retry_policy, deadline=deadline)


retry_policy = RetryPolicy()  # module level so tests can shorten the waits


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    return response.get("Error", {}).get("Code", "") if isinstance(response, dict) else ""


def _process_object(obj: S3Object, config: Config, engine: Engine, dispatcher: Dispatcher) -> Report | None:
    """Read, evaluate and deliver one object; ``None`` when it is skipped. A permanent problem with the
    object (gone, corrupt, not CloudTrail) is logged and does not fail the invocation, since retrying
    cannot help; an error reading it that may pass (access, throttling, network) is a failure."""
    if is_digest_key(obj.key):
        log.emit("object_skipped", bucket=obj.bucket, key=obj.key, reason="CloudTrail digest file")
        return None
    report = Report(str(obj))
    try:
        body = _s3().get_object(Bucket=obj.bucket, Key=obj.key)["Body"]
    except Exception as exc:  # botocore's ClientError and connection errors alike
        if _error_code(exc) in ("NoSuchKey", "404"):
            log.emit("object_skipped", logging.WARNING, bucket=obj.bucket, key=obj.key,
                     reason=f"no such object (deleted since the notification?): {exc}")
            return None
        report.failures.append(f"{obj}: cannot read: {exc}")
        return report
    try:
        process_stream(body, str(obj), config, engine, dispatcher=dispatcher, report=report)
    except NotCloudTrail as exc:
        log.emit("object_skipped", bucket=obj.bucket, key=obj.key, reason=str(exc))
        return None
    except SourceError as exc:
        report.error = str(exc)  # logged with the object's line; the records before the damage were handled
    except Exception as exc:  # the S3 stream dropped, or a bug: retry the object, never lose it
        report.failures.append(f"{obj}: failed: {type(exc).__name__}: {exc}")
    finally:
        body.close()
    return report


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Process an S3 event notification. Raises after trying everything if something was neither
    delivered nor dead-lettered, so that Lambda retries (delivered alerts are then skipped)."""
    log.setup(os.environ.get(settings.LOG_LEVEL, "INFO"))
    if isinstance(event, dict) and is_s3_test_event(event):
        log.emit("s3_test_event_ignored", bucket=event.get("Bucket"))
        return dict.fromkeys(TOTALS, 0)
    try:
        objects, problems = s3_objects(event)
        config, engine = current_config()
    except TattletailError as exc:
        log.emit("invocation_failed", logging.ERROR, error=str(exc))
        raise
    for problem in problems:
        log.emit("event_record_skipped", logging.ERROR, error=problem)
    dispatcher = _dispatcher(config, context)
    failures: list[str] = []
    totals = dict.fromkeys(TOTALS, 0)
    for obj in objects:
        report = _process_object(obj, config, engine, dispatcher)
        if report is None:
            continue
        totals["objects"] += 1
        totals["matches"] += sum(report.matches.values())
        for name in TOTALS[2:]:
            totals[name] += getattr(report, name)
        failures += report.failures
        level = logging.ERROR if report.error or report.failures else logging.INFO
        log.emit("object_processed", level, bucket=obj.bucket, key=obj.key, **report.fields())
    if failures:
        raise InvocationFailed(failures)
    return totals


TOTALS = ("objects", "matches", "deliveries", "alerts_delivered", "duplicates", "digests", "dead_lettered")
