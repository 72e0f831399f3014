from __future__ import annotations

import gzip
import io

import pytest

from tattletail.errors import SourceError
from tattletail.inputs.logfile import NotCloudTrail, is_digest_key, iter_file, iter_records
from tests.helpers import log_bytes

RECORDS = [{"eventName": "A", "n": 1.5}, {"eventName": "B"}]


@pytest.mark.parametrize("gz", [True, False])
def test_gzip_is_detected_by_magic_bytes_not_name(gz: bool) -> None:
    assert list(iter_records(io.BytesIO(log_bytes(RECORDS, gz=gz)), "x.json")) == RECORDS


class Trickle(io.RawIOBase):
    """A non-seekable stream returning a few bytes per read, like a network body."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        n = 3 if size < 0 else min(3, size)
        chunk, self.data = self.data[:n], self.data[n:]
        return chunk


def test_non_seekable_stream_reading_few_bytes_at_a_time() -> None:
    assert list(iter_records(Trickle(log_bytes(RECORDS)), "s3://b/k")) == RECORDS  # type: ignore[arg-type]


@pytest.mark.parametrize(("data", "message"), [
    (b"", "empty file"),
    (b'{"foo": [1]}', "not a CloudTrail log file"),
    (gzip.compress(b"[1, 2]"), "not a CloudTrail log file"),
])
def test_not_cloudtrail_is_recognised(data: bytes, message: str) -> None:
    with pytest.raises(NotCloudTrail, match=message):
        list(iter_records(io.BytesIO(data), "obj"))


def test_truncated_json_yields_what_came_before_and_names_the_object() -> None:
    data = gzip.compress(b'{"Records":[{"eventName":"A"},{"eventName":')
    seen = []
    with pytest.raises(SourceError, match="^obj: truncated: the text ends inside the log object"):
        for record in iter_records(io.BytesIO(data), "obj"):
            seen.append(record)
    assert seen == [{"eventName": "A"}]


def test_corrupt_gzip_names_the_object() -> None:
    with pytest.raises(SourceError, match="^obj: cannot decompress"):
        list(iter_records(io.BytesIO(b"\x1f\x8b\x08garbage-garbage"), "obj"))


def test_record_that_is_not_an_object_is_skipped_and_reported() -> None:
    skipped = []
    data = log_bytes([{"a": 1}, "text", {"b": 2}])
    got = list(iter_records(io.BytesIO(data), "obj", lambda i, why: skipped.append((i, why))))
    assert got == [{"a": 1}, {"b": 2}] and skipped == [(1, "record is a JSON str, not an object")]


def test_digest_keys() -> None:
    assert is_digest_key("AWSLogs/123456789012/CloudTrail-Digest/us-east-1/2026/11/20/x.json.gz")
    assert not is_digest_key("AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/20/x.json.gz")


def test_corpus_reads_every_record(corpus) -> None:
    total = sum(1 for path in corpus for _ in iter_file(str(path)))
    assert total == 15715
