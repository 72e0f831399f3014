"""A CloudTrail log object -> a stream of records, in constant memory.

Log files are ``{"Records": [...]}``, usually gzipped. gzip is recognised by its magic bytes, not the
key's suffix. Records are parsed one at a time with ijson (its C backend where available), so memory
holds one record plus buffers whatever the size of the file.
"""

from __future__ import annotations

import gzip
import io
import re
import zlib
from collections.abc import Callable, Iterator
from typing import IO, Any

import ijson

from tattletail.errors import NotCloudTrail, SourceError

GZIP_MAGIC = b"\x1f\x8b"
_RECORDS_START = re.compile(rb'^\s*\{\s*"Records"\s*:\s*(.)', re.S)
_PEEK = 4096
_DECOMPRESS_ERRORS = (OSError, EOFError, zlib.error)  # gzip.BadGzipFile is an OSError


def is_digest_key(key: str) -> bool:
    """CloudTrail digest files (integrity validation) hold no records."""
    return "/CloudTrail-Digest/" in f"/{key}"


class _Prefixed(io.RawIOBase):
    """A readable stream that first returns ``head`` and then the rest of ``stream``, so bytes
    already read to sniff the format are not lost on a stream that cannot seek (an S3 body)."""

    def __init__(self, head: bytes, stream: IO[bytes]) -> None:
        self._head = head
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _read_exactly(stream: IO[bytes], size: int) -> bytes:
    chunks, got = [], 0
    while got < size:
        chunk = stream.read(size - got)
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def open_log(stream: IO[bytes]) -> IO[bytes]:
    """The decompressed, buffered content of a log object (gzip detected by magic bytes)."""
    head = _read_exactly(stream, 2)
    raw: IO[bytes] = io.BufferedReader(_Prefixed(head, stream), buffer_size=64 * 1024)
    if head == GZIP_MAGIC:
        raw = io.BufferedReader(gzip.GzipFile(fileobj=raw, mode="rb"), buffer_size=64 * 1024)
    return raw


def _skip_silently(index: int, reason: str) -> None:
    pass


def iter_records(stream: IO[bytes], name: str = "<stream>",
                 on_bad_record: Callable[[int, str], None] = _skip_silently) -> Iterator[dict[str, Any]]:
    """Yield each record of a CloudTrail log file. Raise ``NotCloudTrail`` if the content does not
    start like one, ``SourceError`` (naming ``name``) on corrupt gzip or truncated JSON: the records
    before the damage have been yielded by then. A record that is not an object is passed to
    ``on_bad_record`` with its index and skipped."""
    try:
        content = open_log(stream)
        head = _read_exactly(content, _PEEK)
    except _DECOMPRESS_ERRORS as exc:
        raise SourceError(f"{name}: cannot decompress: {exc}") from None
    if not head.strip():
        raise NotCloudTrail(f"{name}: empty file")
    start = _RECORDS_START.match(head)
    if not start:
        raise NotCloudTrail(f"{name}: not a CloudTrail log file (expected {{\"Records\": [...]}})")
    if start.group(1) != b"[":
        raise SourceError(f"{name}: Records is not a list (it starts with {start.group(1).decode(errors='replace')!r})")
    content = io.BufferedReader(_Prefixed(head, content), buffer_size=64 * 1024)
    try:
        for index, record in enumerate(ijson.items(content, "Records.item", use_float=True)):
            if isinstance(record, dict):
                yield record
            else:
                on_bad_record(index, f"record is a JSON {type(record).__name__}, not an object")
    except ijson.JSONError as exc:
        raise SourceError(f"{name}: invalid JSON: {' '.join(str(exc).split())}") from None
    except _DECOMPRESS_ERRORS as exc:
        raise SourceError(f"{name}: cannot decompress: {exc}") from None


def iter_file(path: str) -> Iterator[dict[str, Any]]:
    """Records of a local log file (``.json`` or ``.json.gz``)."""
    with open(path, "rb") as fh:
        yield from iter_records(fh, path)
