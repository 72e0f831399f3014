"""Lambda events -> the log objects to read.

Thin read-only views over the raw event. S3 keys arrive URL-encoded (``+`` and ``%20`` are
spaces) and are decoded with ``unquote_plus``. An event of an unknown shape is an error that
names the keys it saw, never a ``KeyError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from tattletail.errors import SourceError


@dataclass(frozen=True)
class S3Object:
    """One object to read: where it is, and the size the notification announced (if any)."""

    bucket: str
    key: str
    size: int | None = None

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def is_s3_test_event(event: Mapping[str, Any]) -> bool:
    """S3 sends ``s3:TestEvent`` when a notification is configured; it names no object."""
    return event.get("Event") == "s3:TestEvent"


def s3_objects(event: Mapping[str, Any]) -> tuple[list[S3Object], list[str]]:
    """The objects of an S3 event notification, and a problem for each record that is not one (those
    are skipped; the others are still processed). An event with no ``Records`` list is an error."""
    if not isinstance(event, Mapping):
        raise SourceError(f"event is a JSON {type(event).__name__}, not an object")
    records = event.get("Records")
    if not isinstance(records, list):
        raise SourceError(f"unknown event shape: no Records list (keys seen: {sorted(event)})")
    objects, problems = [], []
    for n, record in enumerate(records):
        s3 = record.get("s3") if isinstance(record, Mapping) else None
        bucket = s3.get("bucket") if isinstance(s3, Mapping) else None
        obj = s3.get("object") if isinstance(s3, Mapping) else None
        name = bucket.get("name") if isinstance(bucket, Mapping) else None
        key = obj.get("key") if isinstance(obj, Mapping) else None
        if not isinstance(name, str) or not isinstance(key, str):
            seen = sorted(record) if isinstance(record, Mapping) else type(record).__name__
            problems.append(f"Records[{n}] is not an S3 notification (keys seen: {seen})")
            continue
        size = obj.get("size") if isinstance(obj, Mapping) else None
        objects.append(S3Object(name, unquote_plus(key), size if isinstance(size, int) else None))
    if records and not objects:
        raise SourceError("unknown event shape: " + "; ".join(problems))
    return objects, problems
