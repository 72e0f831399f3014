"""CloudTrail history to read: local files and directories, or ``s3://bucket/prefix`` with a date range.

CloudTrail writes ``AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<file>.json.gz`` (organization
trails put ``<org-id>/`` before the account). Listing an S3 prefix walks it level by level and prunes
year, month and day folders outside ``--since``/``--until``, so a month of an organization trail is
found without listing years of keys. Digest files are never returned.

The folder of a log file is the day CloudTrail *delivered* it, up to about 15 minutes after its records'
``eventTime``: a record of 23:58 on the 31st sits in a folder of the 1st. So the folders read run from
``since`` to the day after ``until``, and the records themselves are filtered by ``eventTime`` (the
commands' ``WindowEngine``). A key whose date the layout does not give (an export, a copy) is always read
and filtered the same way, in S3 as on disk: a file named on the command line is never dropped unread.
"""

from __future__ import annotations

import gzip
import io
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import IO, Any

from tattletail import aws
from tattletail.errors import SourceError
from tattletail.inputs import events
from tattletail.inputs.logfile import GZIP_MAGIC, is_digest_key, iter_records

SINGLE_RECORD_LIMIT = 10 * 1024 * 1024  # a record alone in a file; CloudTrail's own limit is far below

# .../CloudTrail/<region>/YYYY[/MM[/DD]]  (also CloudTrail-Insight)
_DATED = re.compile(r"/CloudTrail(?:-Insight)?/[^/]+/(\d{4})(?:/(\d{2})(?:/(\d{2}))?)?(?:/|$)")


@dataclass(frozen=True)
class LogRef:
    """One log file: a local path, or an S3 object."""

    name: str
    path: str | None = None
    bucket: str | None = None
    key: str | None = None

    def open(self, s3: Any = None) -> IO[bytes]:
        if self.path is not None:
            return open(self.path, "rb")
        s3 = s3 or aws.client("s3")
        return s3.get_object(Bucket=self.bucket, Key=self.key)["Body"]  # type: ignore[no-any-return]

    def standalone_records(self) -> list[dict[str, Any]] | None:
        """The records of a local file holding CloudTrail records on their own rather than a log file, or
        ``None``. A file holding one JSON object is read as the Lambda reads that shape
        (``events.standalone``): an EventBridge event gives its ``detail``, ``aws cloudtrail lookup-events``
        output gives each ``Events[].CloudTrailEvent``, anything else is itself a record. Everything is read
        by the same reader as log files (the same limits, the same numbers). Raises ``SourceError`` for a
        damaged document of a known shape."""
        if self.path is None:
            return None
        try:
            with open(self.path, "rb") as fh:
                data = fh.read(SINGLE_RECORD_LIMIT + 1)
            if data[:2] == GZIP_MAGIC:
                data = gzip.GzipFile(fileobj=io.BytesIO(data)).read(SINGLE_RECORD_LIMIT + 1)
        except (OSError, EOFError, zlib.error):  # unreadable or damaged: not a record either
            return None
        text = data.decode("utf-8", "replace").lstrip("\ufeff").strip()
        if len(data) > SINGLE_RECORD_LIMIT or not text.startswith("{"):
            return None
        try:
            document = _one(text, self.name)
        except SourceError:
            return None
        if document is None or ("Records" in document and not isinstance(document["Records"], list)):
            return None
        return events.standalone(document, self.name, _decode)


def _one(text: str, name: str) -> dict[str, Any] | None:
    """The one JSON object ``text`` holds, read by the log file reader; ``None`` if it holds more or less."""
    data = text.encode("utf-8", "surrogatepass")
    found = list(iter_records(io.BytesIO(b'{"Records":[' + data + b"]}"), name))
    return found[0] if len(found) == 1 else None


def _decode(text: str, where: str) -> Any:
    """A record given as JSON text (``lookup-events``' ``CloudTrailEvent``), read like a log file's record."""
    if not text.lstrip().startswith("{"):
        raise SourceError(f"{where}: not a JSON object")
    record = _one(text, where)
    if record is None:
        raise SourceError(f"{where}: not one JSON object")
    return record


def key_date(key: str) -> tuple[int, int | None, int | None] | None:
    """(year, month, day) of a CloudTrail key or prefix, as far as it goes; ``None`` if undated."""
    m = _DATED.search("/" + key)
    if not m:
        return None
    year, month, day = m.groups()
    return int(year), int(month) if month else None, int(day) if day else None


def in_range(parts: tuple[int, int | None, int | None] | None, since: date | None, until: date | None) -> bool:
    """Whether a (possibly partial) date can fall within [since, until]; undated is out when a range is set."""
    if since is None and until is None:
        return True
    if parts is None:
        return False
    year, month, day = parts
    low = (year, month or 1, day or 1)
    high = (year, month or 12, day or 31)
    if since is not None and high < (since.year, since.month, since.day):
        return False
    return not (until is not None and low > (until.year, until.month, until.day))


def _is_log_name(name: str) -> bool:
    return name.endswith((".json", ".json.gz")) and not is_digest_key(name)


def folder_days(since: date | None, until: date | None) -> tuple[date | None, date | None]:
    """The delivery-date folders that can hold records of [since, until]: up to the day after ``until``,
    where CloudTrail delivers the records of its last minutes."""
    return since, until + timedelta(days=1) if until is not None else None


def _local(path: Path, since: date | None, until: date | None) -> Iterator[LogRef]:
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        name = str(file)
        if path.is_dir() and not _is_log_name(name):
            continue
        dated = key_date(file.as_posix())
        if dated is None or in_range(dated, since, until):  # a local file outside the layout is always read
            yield LogRef(name, path=name)


def _walk_s3(s3: Any, bucket: str, prefix: str, since: date | None, until: date | None) -> Iterator[LogRef]:
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
        for obj in page.get("Contents", []):
            key = obj["Key"]
            dated = key_date(key)  # undated (outside the layout): read, and filtered by eventTime
            if _is_log_name(key) and (dated is None or in_range(dated, since, until)):
                yield LogRef(f"s3://{bucket}/{key}", bucket=bucket, key=key)
        for common in page.get("CommonPrefixes", []):
            sub = common["Prefix"]
            if is_digest_key(sub):
                continue
            dated = key_date(sub)
            if dated is None or in_range(dated, since, until):
                yield from _walk_s3(s3, bucket, sub, since, until)


def discover(sources: list[str], since: date | None = None, until: date | None = None,
             s3: Any = None) -> list[LogRef]:
    """Every log file of the given sources that can hold records of [since, until], in a stable order."""
    since, until = folder_days(since, until)
    refs: list[LogRef] = []
    for source in sources:
        if source.startswith("s3://"):
            bucket, _, prefix = source[5:].partition("/")
            if not bucket:
                raise SourceError(f"{source}: no bucket name")
            s3 = s3 or aws.client("s3")
            try:
                refs += _walk_s3(s3, bucket, prefix, since, until)
            except Exception as exc:  # botocore errors: access denied, no such bucket
                raise SourceError(f"{source}: cannot list: {aws.describe(exc)}") from None
        else:
            path = Path(source)
            if not path.exists():
                raise SourceError(f"{source}: no such file or directory")
            refs += _local(path, since, until)
    return refs
