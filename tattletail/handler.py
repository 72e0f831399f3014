"""The Lambda entry point: wires sources, config, engine and destinations; nothing else.

``lambda_handler(event, context)`` reads each S3 object of the event, evaluates its records and
sends every match. All objects and all deliveries are attempted; if any failed, the invocation
raises afterwards (naming each failure) so that Lambda retries and the error is visible.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import Any

from tattletail import config as config_module
from tattletail import log, settings
from tattletail.cloudtrail import NotCloudTrail, is_digest_key
from tattletail.config import Config
from tattletail.destinations import aws
from tattletail.engine import Engine
from tattletail.errors import ConfigError, InvocationFailed, SourceError, TattletailError
from tattletail.pipeline import Report, process_stream
from tattletail.sources import S3Object, is_s3_test_event, s3_objects


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
    ETag changed. An invalid config raises ``ConfigError``."""
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
    text = response["Body"].read().decode("utf-8")
    config = config_module.loads(text, where, settings.bundle_dir())  # packs ship in the zip
    _loaded = _Loaded(where, response.get("ETag"), config, Engine(config.rules))
    log.emit("config_loaded", source=where, rules=len(config.rules), etag=response.get("ETag"))
    return config, _loaded.engine


def _process_object(obj: S3Object, config: Config, engine: Engine) -> Report | None:
    """Read and process one object; ``None`` when it is skipped (digest, not CloudTrail)."""
    if is_digest_key(obj.key):
        log.emit("object_skipped", bucket=obj.bucket, key=obj.key, reason="CloudTrail digest file")
        return None
    started = time.monotonic()
    try:
        body = _s3().get_object(Bucket=obj.bucket, Key=obj.key)["Body"]
    except Exception as exc:  # botocore's ClientError and connection errors alike
        report = Report(str(obj), started=started, error=f"{obj}: cannot read: {exc}")
        return report
    try:
        return process_stream(body, str(obj), config, engine)
    except NotCloudTrail as exc:
        log.emit("object_skipped", bucket=obj.bucket, key=obj.key, reason=str(exc))
        return None
    except SourceError as exc:
        return Report(str(obj), started=started, error=str(exc))
    finally:
        body.close()


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Process an S3 event notification; raise after trying everything if anything failed."""
    log.setup(os.environ.get(settings.LOG_LEVEL, "INFO"))
    if is_s3_test_event(event):
        log.emit("s3_test_event_ignored", bucket=event.get("Bucket"))
        return {"objects": 0, "matches": 0, "deliveries": 0}
    try:
        objects = s3_objects(event)
        config, engine = current_config()
    except TattletailError as exc:
        log.emit("invocation_failed", logging.ERROR, error=str(exc))
        raise
    failures: list[str] = []
    totals = {"objects": 0, "matches": 0, "deliveries": 0}
    for obj in objects:
        report = _process_object(obj, config, engine)
        if report is None:
            continue
        totals["objects"] += 1
        totals["matches"] += sum(report.matches.values())
        totals["deliveries"] += report.deliveries
        failures += report.failures
        if report.error:
            failures.append(report.error)
        level = logging.ERROR if report.error or report.failures else logging.INFO
        log.emit("object_processed", level, bucket=obj.bucket, key=obj.key, **report.fields())
    if failures:
        raise InvocationFailed(failures)
    return totals
