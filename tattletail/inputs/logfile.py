"""A CloudTrail log object -> a stream of records, in bounded memory whatever the object holds.

Log files are ``{"Records": [...]}``, usually gzipped. gzip is recognised by its magic bytes, not the
key's suffix. The object is read in chunks, decompressed with a cap on the output of each step (a gzip
bomb expands one bounded chunk at a time), decoded as UTF-8 (invalid bytes become U+FFFD, as jq does)
and cut into records by ``recordstream``, which enforces the limits on depth, record and string size
(see there). A truncated or corrupt gzip yields every complete record before the damage, then raises
``SourceError`` naming the object and what happened.
"""

from __future__ import annotations

import codecs
import zlib
from collections.abc import Callable, Iterator
from typing import IO, Any

from tattletail.errors import SourceError
from tattletail.inputs.recordstream import LIMITS, Limits, Reader, read_records
from tattletail.inputs.scan import Check

__all__ = ["GZIP_MAGIC", "is_digest_key", "iter_file", "iter_records", "text_chunks"]

GZIP_MAGIC = b"\x1f\x8b"
READ_SIZE = 64 * 1024  # compressed bytes read at a time
OUTPUT_SIZE = 256 * 1024  # decompressed bytes produced at a time, whatever the compression ratio


def is_digest_key(key: str) -> bool:
    """CloudTrail digest files (integrity validation) hold no records."""
    return "/CloudTrail-Digest/" in f"/{key}"


def _read(stream: IO[bytes], size: int) -> bytes:
    """Up to ``size`` bytes (fewer only at the end), from a stream that may return less per read."""
    data = stream.read(size)
    if not data or len(data) >= size:
        return data or b""
    parts, got = [data], len(data)
    while got < size:
        data = stream.read(size - got)
        if not data:
            break
        parts.append(data)
        got += len(data)
    return b"".join(parts)


def _gunzip(first: bytes, stream: IO[bytes], name: str) -> Iterator[bytes]:
    """The decompressed content of a gzip stream (all its members), in chunks of at most
    ``OUTPUT_SIZE``. Everything that can be decompressed before damage is yielded before the
    ``SourceError`` that names it."""
    pending = first
    inflater = zlib.decompressobj(wbits=31)
    produced = 0
    while True:
        if not pending:
            pending = _read(stream, READ_SIZE)
            if not pending:
                if inflater.eof:
                    return
                raise SourceError(f"{name}: cannot decompress: truncated gzip, the compressed data ends before "
                                  f"its end marker (after {produced:,} bytes decompressed)")
        saved = inflater.copy()
        try:
            out = inflater.decompress(pending, OUTPUT_SIZE)
        except zlib.error as exc:
            yield from _salvage(saved, pending)
            raise SourceError(f"{name}: cannot decompress: corrupt gzip: {exc} "
                              f"(after about {produced:,} bytes decompressed)") from None
        pending = inflater.unconsumed_tail
        if out:
            produced += len(out)
        yield out  # empty when the input held no text (empty deflate blocks): still work the reader counts
        if inflater.eof:
            yield b""  # a member ended: progress the reader can see (and check the time at), even without text
            rest = inflater.unused_data.lstrip(b"\0") or _read(stream, READ_SIZE).lstrip(b"\0")
            while not rest:
                block = _read(stream, READ_SIZE)
                if not block:
                    return
                rest = block.lstrip(b"\0")  # gzip allows zero padding after the last member
            if not rest.startswith(GZIP_MAGIC[: len(rest)]):
                raise SourceError(f"{name}: cannot decompress: unexpected data after the compressed stream")
            inflater, pending = zlib.decompressobj(wbits=31), rest


def _salvage(inflater: Any, data: bytes) -> Iterator[bytes]:
    """What ``data`` decompresses to before the byte that zlib rejects: fed a byte at a time to a copy
    of the decompressor as it was, so output produced in the failing call is not lost."""
    for n in range(len(data)):
        try:
            out = inflater.decompress(data[n:n + 1], OUTPUT_SIZE)
            while inflater.unconsumed_tail:
                yield out
                out = inflater.decompress(inflater.unconsumed_tail, OUTPUT_SIZE)
        except zlib.error:
            return
        if out:
            yield out
        if inflater.eof:
            return


def _plain(first: bytes, stream: IO[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    while block := _read(stream, READ_SIZE):
        yield block


def text_chunks(stream: IO[bytes], name: str = "<stream>") -> Iterator[str]:
    """The text of a log object in chunks: decompressed when it starts with gzip's magic bytes, decoded
    as UTF-8 with invalid bytes replaced (and a leading byte order mark dropped)."""
    first = _read(stream, 2)
    blocks = _gunzip(first, stream, name) if first == GZIP_MAGIC else _plain(first, stream)
    decoder = codecs.getincrementaldecoder("utf-8-sig")("replace")  # a byte order mark is skipped, as jq does
    for block in blocks:
        yield decoder.decode(block)
    yield decoder.decode(b"", final=True)


def _skip_silently(index: int, reason: str) -> None:
    pass


def iter_records(stream: IO[bytes], name: str = "<stream>",
                 on_bad_record: Callable[[int, str], None] = _skip_silently,
                 limits: Limits = LIMITS, check: Check | None = None) -> Iterator[dict[str, Any]]:
    """Yield each record of a CloudTrail log file. Raise ``NotCloudTrail`` if the content does not
    start like one, ``SourceError`` (naming ``name``) on corrupt or truncated gzip or JSON whose
    structure is broken: the records before the damage have been yielded by then. A record that is past
    a limit, not valid JSON or not an object is passed to ``on_bad_record`` with its index and why, and
    the records after it are read. ``check`` is called once every megabyte or so of text read (whether
    records, or a hostile value being skipped): what it raises ends the reading (the deadline)."""
    yield from read_records(Reader(text_chunks(stream, name), limits, check), name, on_bad_record)


def iter_file(path: str) -> Iterator[dict[str, Any]]:
    """Records of a local log file (``.json`` or ``.json.gz``)."""
    with open(path, "rb") as fh:
        yield from iter_records(fh, path)
