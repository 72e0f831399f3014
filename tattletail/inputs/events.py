"""Lambda events -> what to read: log objects, or CloudTrail records that arrived on their own.

One entry point accepts every way CloudTrail reaches the function and recognises each by its shape:

- S3 ``ObjectCreated`` notifications (``Records[].s3``), also wrapped in SNS (``Records[].Sns.Message``)
  or SQS (``Records[].body``, holding an S3 event or an SNS envelope), and S3 events via EventBridge
  (``detail-type: Object Created``). S3 notification keys are URL-encoded (``unquote_plus``); EventBridge
  keys are not.
- CloudTrail's own SNS delivery notification (``{"s3Bucket": ..., "s3ObjectKey": [...]}``).
- EventBridge CloudTrail events (``detail-type: ... via CloudTrail``): ``detail`` is the record itself.
- S3 Batch Operations invocations (schema 1.0 and 2.0): each task is a log object, read at the task's
  ``s3VersionId`` when it names one (a backfill of a versioned bucket reads what the manifest listed,
  not whatever overwrote it since).
- ``s3:TestEvent``, acknowledged and ignored.

A local file given to ``run``/``render`` may hold records on their own rather than a log file:
``standalone`` reads it with the same ``parse`` (an EventBridge event saved to a file gives the records the
Lambda would evaluate, never the wrapper), plus ``aws cloudtrail lookup-events`` output
(``Events[].CloudTrailEvent``, each a record as JSON text) and a bare record.

An event is split into items that succeed or fail on their own: an SQS message (reported in
``batchItemFailures``), a Batch task (one result each), or the whole event. A shape this module does not
know is an error naming the keys it saw, never a ``KeyError``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from tattletail.errors import SourceError
from tattletail.jq.values import json_name

CLOUDTRAIL_DETAIL_SUFFIX = "via CloudTrail"   # AWS API Call / Console Sign In / Service Event / ... via CloudTrail
MAX_DEPTH = 4                                 # envelopes inside envelopes (SQS > SNS > S3 is 3)


@dataclass(frozen=True)
class S3Object:
    """One object to read."""

    bucket: str
    key: str
    version: str | None = None  # an S3 Batch task's s3VersionId: that version, not the latest

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}" + (f"?versionId={self.version}" if self.version else "")

    def get_args(self) -> dict[str, str]:
        """The ``GetObject`` arguments that read exactly this object (its version when one is named)."""
        args = {"Bucket": self.bucket, "Key": self.key}
        if self.version:
            args["VersionId"] = self.version
        return args


@dataclass
class Item:
    """A part of an event that succeeds or fails on its own."""

    id: str | None = None                                          # SQS messageId or Batch taskId
    objects: list[S3Object] = field(default_factory=list)
    records: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (origin, CloudTrail record)
    problem: str | None = None                                     # why it cannot be read at all
    notes: list[str] = field(default_factory=list)                 # parts skipped (test events, odd records)


@dataclass
class Parsed:
    shape: str                              # s3, sns, sqs, eventbridge-s3, eventbridge-cloudtrail,
    items: list[Item]                       # cloudtrail-notification, batch, s3-test
    batch: dict[str, Any] | None = None     # invocationSchemaVersion and invocationId, for the response


def _keys(value: Any) -> str:
    return str(sorted(value)) if isinstance(value, Mapping) else f"a JSON {json_name(value)}"


def _json(text: Any, where: str) -> Any:
    if not isinstance(text, str):
        raise SourceError(f"{where} is {_keys(text)}, not JSON text")
    try:
        return json.loads(text)
    except ValueError as exc:
        raise SourceError(f"{where} is not JSON: {exc}") from None


def is_s3_test_event(event: Any) -> bool:
    """S3 sends ``s3:TestEvent`` when a notification is configured; it names no object."""
    return isinstance(event, Mapping) and event.get("Event") == "s3:TestEvent"


def _s3_record(record: Mapping[str, Any]) -> S3Object | None:
    s3 = record.get("s3")
    bucket = s3.get("bucket") if isinstance(s3, Mapping) else None
    obj = s3.get("object") if isinstance(s3, Mapping) else None
    name = bucket.get("name") if isinstance(bucket, Mapping) else None
    key = obj.get("key") if isinstance(obj, Mapping) else None
    if not isinstance(name, str) or not isinstance(key, str):
        return None
    return S3Object(name, unquote_plus(key))


def _fill(item: Item, payload: Any, where: str, depth: int = 0) -> str:
    """Add what ``payload`` holds to ``item``; return the shape recognised. Raises ``SourceError``."""
    if depth > MAX_DEPTH:
        raise SourceError(f"{where}: envelopes nested too deep")
    if not isinstance(payload, Mapping):
        raise SourceError(f"{where}: a JSON {json_name(payload)}, not an event")
    if is_s3_test_event(payload):
        item.notes.append(f"{where}: s3:TestEvent ignored")
        return "s3-test"
    if "s3Bucket" in payload and "s3ObjectKey" in payload:  # CloudTrail's SNS delivery notification
        bucket, keys = payload["s3Bucket"], payload["s3ObjectKey"]
        if not isinstance(bucket, str) or not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise SourceError(f"{where}: CloudTrail notification with s3Bucket {bucket!r} and s3ObjectKey {keys!r}")
        item.objects += [S3Object(bucket, key) for key in keys]
        return "cloudtrail-notification"
    if "detail-type" in payload and "detail" in payload:
        return _eventbridge(item, payload, where)
    if "Type" in payload and "Message" in payload:  # an SNS envelope (SNS -> SQS without raw delivery)
        _fill(item, _json(payload["Message"], f"{where}: SNS Message"), f"{where} > SNS", depth + 1)
        return "sns"
    records = payload.get("Records")
    if isinstance(records, list):
        shape = "s3"
        for n, record in enumerate(records):
            here = f"{where}: Records[{n}]"
            if isinstance(record, Mapping) and isinstance(record.get("Sns"), Mapping):
                _fill(item, _json(record["Sns"].get("Message"), f"{here}.Sns.Message"), f"{here} > SNS", depth + 1)
                shape = "sns"
                continue
            obj = _s3_record(record) if isinstance(record, Mapping) else None
            if obj is None:
                item.notes.append(f"{here} is not an S3 notification (keys seen: {_keys(record)})")
                continue
            item.objects.append(obj)
        if records and not item.objects and not item.records and len(item.notes) >= len(records):
            raise SourceError(f"{where}: unknown event shape: " + "; ".join(item.notes))
        return shape
    raise SourceError(f"{where}: unknown event shape (keys seen: {_keys(payload)})")


def _eventbridge(item: Item, event: Mapping[str, Any], where: str) -> str:
    kind, detail = event.get("detail-type"), event.get("detail")
    if not isinstance(detail, Mapping):
        raise SourceError(f"{where}: EventBridge detail is {_keys(detail)}")
    if kind == "Object Created" and event.get("source") == "aws.s3":
        bucket, obj = detail.get("bucket"), detail.get("object")
        name = bucket.get("name") if isinstance(bucket, Mapping) else None
        key = obj.get("key") if isinstance(obj, Mapping) else None
        if not isinstance(name, str) or not isinstance(key, str):
            raise SourceError(f"{where}: Object Created without bucket name and object key "
                              f"(detail keys: {_keys(detail)})")
        item.objects.append(S3Object(name, key))  # not URL-encoded
        return "eventbridge-s3"
    if isinstance(kind, str) and kind.endswith(CLOUDTRAIL_DETAIL_SUFFIX):
        item.records.append((f"eventbridge:{event.get('id', '?')}", dict(detail)))
        return "eventbridge-cloudtrail"
    raise SourceError(f"{where}: EventBridge event of an unknown detail-type {kind!r} from {event.get('source')!r}")


def _batch(event: Mapping[str, Any]) -> Parsed:
    version = event.get("invocationSchemaVersion")
    if version not in ("1.0", "2.0"):
        raise SourceError(f"S3 Batch Operations invocation of an unknown schema version {version!r}")
    tasks = event.get("tasks")
    if not isinstance(tasks, list):
        raise SourceError(f"S3 Batch Operations invocation without a tasks list (keys seen: {_keys(event)})")
    items = []
    for n, task in enumerate(tasks):
        task_id = task.get("taskId") if isinstance(task, Mapping) else None
        item = Item(id=str(task_id) if task_id is not None else f"tasks[{n}]")
        key = task.get("s3Key") if isinstance(task, Mapping) else None
        bucket = task.get("s3Bucket") if isinstance(task, Mapping) else None  # 2.0
        arn = task.get("s3BucketArn") if isinstance(task, Mapping) else None  # 1.0
        if bucket is None and isinstance(arn, str) and arn.startswith("arn:"):
            bucket = arn.split(":::", 1)[-1]
        version_id = task.get("s3VersionId") if isinstance(task, Mapping) else None  # null when unversioned
        if not isinstance(key, str) or not isinstance(bucket, str) or not bucket:
            item.problem = f"task {item.id} names no bucket and key (keys seen: {_keys(task)})"
        elif version_id is not None and not isinstance(version_id, str):
            item.problem = f"task {item.id}: s3VersionId is {_keys(version_id)}, not a version id"
        else:
            item.objects.append(S3Object(bucket, unquote_plus(key), version_id or None))
        items.append(item)
    return Parsed("batch", items, {"invocationSchemaVersion": version, "invocationId": event.get("invocationId")})


def parse(event: Any) -> Parsed:
    """Every item of an event. Raises ``SourceError`` for an event of an unknown shape."""
    if not isinstance(event, Mapping):
        raise SourceError(f"event is a JSON {json_name(event)}, not an object")
    if "invocationSchemaVersion" in event and "tasks" in event:
        return _batch(event)
    records = event.get("Records")
    if isinstance(records, list) and records and all(
            isinstance(r, Mapping) and r.get("eventSource") == "aws:sqs" for r in records):
        items = []
        for n, record in enumerate(records):
            item = Item(id=str(record.get("messageId") or f"Records[{n}]"))
            try:
                _fill(item, _json(record.get("body"), f"SQS message {item.id} body"), f"SQS message {item.id}", 1)
            except SourceError as exc:
                item.problem = str(exc)
            items.append(item)
        return Parsed("sqs", items)
    item = Item()
    shape = _fill(item, event, "event")
    return Parsed(shape, [item])


def _is_lookup_events(document: Mapping[str, Any]) -> bool:
    events = document.get("Events")
    return isinstance(events, list) and bool(events) and all(
        isinstance(e, Mapping) and "CloudTrailEvent" in e for e in events)


def _is_event(document: Mapping[str, Any]) -> bool:
    """Whether a JSON object has the shape of a Lambda event ``parse`` knows (a record never has)."""
    return (is_s3_test_event(document)
            or ("invocationSchemaVersion" in document and "tasks" in document)
            or ("s3Bucket" in document and "s3ObjectKey" in document)
            or ("detail-type" in document and "detail" in document)
            or ("Type" in document and "Message" in document)
            or isinstance(document.get("Records"), list))


def standalone(document: Any, where: str, decode: Callable[[str, str], Any]) -> list[dict[str, Any]] | None:
    """The CloudTrail records a JSON document holds on its own, or ``None`` when it holds none (an event
    naming log objects, a test event). ``decode(text, where)`` reads a record given as JSON text (the
    caller's reader, so its numbers and limits are those of log files). Raises ``SourceError`` for a
    document of a known shape that is damaged (an EventBridge event whose detail is not an object)."""
    if not isinstance(document, Mapping):
        raise SourceError(f"{where}: a JSON {json_name(document)}, not a record")
    if _is_lookup_events(document):  # aws cloudtrail lookup-events
        records = []
        for n, event in enumerate(document["Events"]):
            here = f"{where}: Events[{n}].CloudTrailEvent"
            text = event["CloudTrailEvent"]
            if not isinstance(text, str):
                raise SourceError(f"{here} is {_keys(text)}, not JSON text")
            record = decode(text, here)
            if not isinstance(record, Mapping):
                raise SourceError(f"{here}: a JSON {json_name(record)}, not a record")
            records.append(dict(record))
        return records
    if not _is_event(document):
        return [dict(document)]
    parsed = parse(document)
    problems = [item.problem for item in parsed.items if item.problem]
    if problems:
        raise SourceError(f"{where}: " + "; ".join(problems))
    if any(item.objects for item in parsed.items):
        return None  # an S3 notification and the like: it names log objects, which a local run does not fetch
    found = [record for item in parsed.items for _, record in item.records]
    return found or None
