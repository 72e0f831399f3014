"""The text of a CloudTrail log file -> its records, in bounded memory whatever the file holds.

A log file is ``{"Records": [...]}``. Text arrives in chunks and is read with a small scanner that knows
only where strings, brackets and commas are (``scan``); each record found is handed to a C JSON parser
(runs of records to ``orjson`` at once, ``batch``; the others one by one to ``json``).
Three limits, far above anything real CloudTrail writes, are enforced WHILE the text streams by, so a
hostile file is never materialised first:

==============  ===================  ======================================================
limit           value                largest in ../shared/corpus (15,715 real records)
==============  ===================  ======================================================
nesting depth   64 levels            11 (the record object itself is level 1)
record size     256 KiB of JSON text 7,017 characters as written (5,402 once compacted)
string size     128 KiB of JSON text 2,632 characters as written (2,339 once unescaped)
==============  ===================  ======================================================

The record limit is what keeps a process under 128 MB downstream too: memory follows the number of
values, and the worst shape (``[{},{},...]``: 87,000 objects in 256 KiB) takes ~25 MB in Python and ~40 MB
more in libjq; at 1 MiB it took 150 MB in libjq. The string limit leaves room for the largest documents
AWS accepts in a request (a 51,200-byte CloudFormation template, escaped). The depth limit is far below
Python's recursion limit (1,000 frames), so nothing downstream that walks a record recursively (jq value
comparisons, ``tojson``, ``normalize``, libjq's parser) can overflow.

A record past a limit is reported to ``on_bad_record`` with its index and the limit, its text is
skipped without being kept, and the records after it are read. So is a record that is not valid JSON or
not an object, when the file's structure allows going on. Values outside ``Records`` are skipped the same
way (a 200 MB string there costs one chunk of memory). The ``Records`` array is read leniently: a
missing or doubled comma between records loses nothing. ``Records`` is found wherever it stands among
the object's keys, as jq and the Go tool find it (a second ``Records`` list is read too: more, never
fewer records than jq sees); a leading byte order mark is skipped (``logfile``), as jq skips it.

Strings are read as jq 1.8.2 reads them: a lone surrogate escape (``"\\ud800"``, which Python's parser
keeps as it is) becomes U+FFFD, so every path of the engine (compiled rules, the prefilter, libjq, the
isolated child) and every alert sees the same record.

Numbers are read as jq reads them: integer literals as exact ints (beyond Python's 4,300-digit
conversion limit, as floats, which is what jq computes with), others as floats, and values beyond a
double's range (``1e400``) as ``inf``/``-inf``. ``NaN`` and ``Infinity`` are accepted, as jq 1.6 does.

Memory is one chunk plus at most one record (256 KiB of text and its parsed form). Time is linear in the
text at C speed whatever it holds (``scan``), and the reader's ``check`` (the deadline) is called every
megabyte, so even skipping one huge value stops in time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Generator, Iterator
from typing import Any

from tattletail.errors import NotCloudTrail, SourceError
from tattletail.inputs.batch import parse_run
from tattletail.inputs.scan import LIMITS, WS_COMMAS, Limits, Reader, Truncated, too_deep
from tattletail.jq.values import json_name

__all__ = ["LIMITS", "BadRecord", "Limits", "Reader", "read_records"]

_KEY_LIMITS = Limits(depth=1, record_chars=1024, string_chars=1024)  # for keys outside Records

BadRecord = Callable[[int, str], None]

_decoder = json.JSONDecoder()
_SURROGATE = re.compile("[\ud800-\udfff]")


def _big_int(text: str) -> int | float:
    """An integer literal past Python's digit limit for int(): jq computes with it as a double."""
    try:
        return int(text)
    except ValueError:
        return float(text)


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise
    except ValueError:  # an integer of over 4,300 digits
        return json.loads(text, parse_int=_big_int)


def _fast_record(reader: Reader) -> tuple[Any, int] | None:
    """The object at ``pos`` parsed in one C call when it lies whole in the buffer and is plainly
    within the limits (few enough brackets, short enough); ``None`` sends it the careful way."""
    buf, pos, limits = reader.buf, reader.pos, reader.limits
    try:
        value, end = _decoder.raw_decode(buf, pos)
    except (ValueError, RecursionError):  # cut by the buffer's end, invalid, deep or a huge integer
        return None
    if end - pos > min(limits.string_chars, limits.record_chars):
        return None
    if buf.count("{", pos, end) + buf.count("[", pos, end) > limits.depth and too_deep(buf[pos:end], limits.depth):
        return None
    if _surrogate_escape(buf, pos, end):
        value = _without_lone_surrogates(value)
    return value, end


def _surrogate_escape(text: str, start: int = 0, end: int | None = None) -> bool:
    """Whether ``text[start:end]`` may escape a surrogate (``\\ud800``-``\\udfff``): two finds in C,
    so only such rare records are walked by ``_without_lone_surrogates``."""
    end = len(text) if end is None else end
    return text.find("\\ud", start, end) >= 0 or text.find("\\uD", start, end) >= 0


def _without_lone_surrogates(value: Any) -> Any:
    """``value`` with every lone surrogate in its strings (keys too) replaced by U+FFFD, as jq 1.8.2
    replaces one when it parses text (a pair, which ``json`` has joined into one character, stays)."""
    if isinstance(value, str):
        return value if value.isascii() else _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_without_lone_surrogates(k): _without_lone_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_lone_surrogates(v) for v in value]
    return value


def read_records(reader: Reader, name: str, on_bad_record: BadRecord) -> Iterator[dict[str, Any]]:
    """Yield each record of the log file ``reader`` holds; raise ``NotCloudTrail`` or ``SourceError``
    (naming ``name``) when its structure is broken, after yielding every record read before."""
    try:
        yield from _read(reader, name, on_bad_record)
    except Truncated:
        raise SourceError(f"{name}: truncated: the text ends inside the log object "
                          f"(after {reader.consumed + reader.pos:,} characters)") from None


def _read(reader: Reader, name: str, on_bad_record: BadRecord) -> Iterator[dict[str, Any]]:
    """The log object: ``Records`` wherever it stands among the keys (jq and the Go tool read it so),
    every other value skipped; an object with no ``Records`` list is not CloudTrail."""
    c = reader.skip_ws()
    if not c:
        raise NotCloudTrail(f"{name}: empty file")
    shape = f"{name}: not a CloudTrail log file (expected {{\"Records\": [...]}})"
    if c != "{":
        raise NotCloudTrail(shape)
    reader.pos += 1
    index = 0
    first = True
    lists = 0
    not_list = ""  # how a Records value that is not a list starts
    while True:
        c = reader.skip_ws()
        if c == "}" and first:
            raise NotCloudTrail(shape)
        if c != '"':
            raise _broken(reader, name, "a key")
        key, _ = reader.take_value(limits=_KEY_LIMITS)
        first = False
        if reader.skip_ws() != ":":
            raise _broken(reader, name, "':'")
        reader.pos += 1
        c = reader.skip_ws()
        if not c:
            raise Truncated
        if c == "[" and _is_records(key):
            reader.pos += 1
            lists += 1
            index = yield from _records(reader, on_bad_record, index)
        else:
            if _is_records(key):
                not_list = not_list or c
            reader.take_value(collect=False)
        c = reader.skip_ws()
        if c == ",":
            reader.pos += 1
            continue
        if c == "}":
            reader.pos += 1
            break
        raise _broken(reader, name, "',' or '}'")
    if not lists:
        if not_list:
            raise SourceError(f"{name}: Records is not a list (it starts with {not_list!r})")
        raise NotCloudTrail(shape)
    if reader.skip_ws():
        raise SourceError(f"{name}: invalid JSON: unexpected text after the log object "
                          f"at character {reader.consumed + reader.pos:,}")


def _is_records(key: str | None) -> bool:
    """Whether a key's JSON text (``None`` past the key limit) is ``Records``, escaped or not."""
    if key is None:
        return False
    if key == '"Records"':
        return True
    if "\\" not in key:
        return False
    try:
        return bool(json.loads(key) == "Records")
    except ValueError:
        return False


def _broken(reader: Reader, name: str, expected: str) -> Exception:
    if reader.pos >= len(reader.buf):
        return Truncated()
    return SourceError(f"{name}: invalid JSON: expected {expected} at character {reader.consumed + reader.pos:,}, "
                       f"found {reader.buf[reader.pos]!r}")


def _records(reader: Reader, on_bad_record: BadRecord, index: int) -> Generator[dict[str, Any], None, int]:
    """The items of one ``Records`` array; returns the next index. Runs of records are parsed at once
    where ``batch`` can take them for certain; a run it refuses is not tried again until the careful
    path has read past it, so a file it cannot take costs at most one extra parse of its text."""
    run = min(reader.limits.string_chars, reader.limits.record_chars, 16384)
    retry_at = 0  # the position (from the start of the text) before which no run is tried
    while True:
        c = reader.skip_ws(WS_COMMAS)
        if c == "]":
            reader.pos += 1
            return index
        if not c:
            raise Truncated
        if c == "{":
            if reader.consumed + reader.pos >= retry_at:
                reader.fill(run)
                taken = parse_run(reader.buf, reader.pos, run, reader.limits.depth)
                if taken is not None:
                    records, reader.pos = taken
                    yield from records
                    index += len(records)
                    continue
                retry_at = reader.consumed + reader.pos + run
            fast = _fast_record(reader)
            if fast is not None:
                record, reader.pos = fast
                yield record
                index += 1
                continue
        text, reason = reader.take_value()
        if text is None:
            on_bad_record(index, f"record {reason}")
        else:
            try:
                record = _loads(text)
                if _surrogate_escape(text):
                    record = _without_lone_surrogates(record)
            except ValueError as exc:
                on_bad_record(index, f"invalid JSON: {exc}")
            else:
                if isinstance(record, dict):
                    yield record
                else:
                    on_bad_record(index, f"record is a JSON {json_name(record)}, not an object")
        index += 1
