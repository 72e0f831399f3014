"""The text of a CloudTrail log file -> its records, in bounded memory whatever the file holds.

A log file is ``{"Records": [...]}``. Text arrives in chunks and is read with a small scanner that knows
only where strings, brackets and commas are; each record found is handed to Python's C JSON parser.
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
missing or doubled comma between records loses nothing.

Numbers are read as jq reads them: integer literals as exact ints (beyond Python's 4,300-digit
conversion limit, as floats, which is what jq computes with), others as floats, and values beyond a
double's range (``1e400``) as ``inf``/``-inf``. ``NaN`` and ``Infinity`` are accepted, as jq 1.6 does.

Memory is one chunk plus at most one record (256 KiB of text and its parsed form).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any

from tattletail.errors import NotCloudTrail, SourceError
from tattletail.inputs.batch import parse_run
from tattletail.jq.values import json_name


@dataclass(frozen=True)
class Limits:
    """What a record may be; anything larger is refused as a bad record (sizes in characters of JSON
    text as written, escapes and whitespace included)."""

    depth: int = 64
    record_chars: int = 256 << 10
    string_chars: int = 128 << 10


LIMITS = Limits()
_KEY_LIMITS = Limits(depth=1, record_chars=1024, string_chars=1024)  # for keys outside Records


BadRecord = Callable[[int, str], None]

_WS = re.compile(r"[ \t\n\r]*")
_WS_COMMAS = re.compile(r"[ \t\n\r,]*")
# Inside a container: everything up to the next bracket, whole strings included (an unterminated string
# at the end of the buffer is left out: the match stops at its quote).
_INNER = re.compile(r'[^"\[\]{}]*(?:"[^"\\]*(?:\\.[^"\\]*)*"[^"\[\]{}]*)*', re.S)
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_COMPLETE = re.compile(r'[^"]*(?:"[^"\\]*(?:\\.[^"\\]*)*"[^"]*)*', re.S)  # up to an unterminated string
_SIGNS = bytes.maketrans(b"[{]}", b"(())")
_NOT_SIGNS = bytes(c for c in range(256) if c not in b'[]{}"')
_OPENS = re.compile(r"[\[{]*")
_CLOSES = re.compile(r"[\]}]*")
_TOKEN = re.compile(r'[^ \t\n\r,\[\]{}"]*')
_decoder = json.JSONDecoder()


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


class _Truncated(Exception):
    """The text ended inside a value."""


class Reader:
    """A cursor over text that arrives in chunks. ``buf[pos:]`` is what is not consumed yet; ``more``
    appends a chunk and forgets everything before the position the caller still needs."""

    def __init__(self, chunks: Iterator[str], limits: Limits = LIMITS) -> None:
        self._chunks = chunks
        self.limits = limits
        self.buf = ""
        self.pos = 0
        self.consumed = 0  # characters dropped from the front of buf so far (for positions in messages)
        self._damage: SourceError | None = None  # met while reading ahead; raised when the text is needed

    def more(self, keep: int) -> int:
        """Drop ``buf[:keep]`` and append the next chunk; return the shift applied to indices into
        ``buf`` (subtract it). Raise ``_Truncated`` at the end of the text."""
        if self._damage is not None:
            raise self._damage
        for chunk in self._chunks:
            if chunk:
                self.buf = self.buf[keep:] + chunk
                self.pos -= keep
                self.consumed += keep
                return keep
        raise _Truncated

    def skip_ws(self, pattern: re.Pattern[str] = _WS) -> str:
        """Skip whitespace (and, with ``_WS_COMMAS``, commas); return the next character ("" at the end)."""
        while True:
            self.pos = pattern.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            try:
                self.more(self.pos)
            except _Truncated:
                return ""

    def take_value(self, collect: bool = True, limits: Limits | None = None) -> tuple[str | None, str | None]:
        """Consume one value starting at ``pos`` (which is not whitespace). Return its text (``None`` when
        not collecting or past a limit) and the limit it broke (or ``None``). Containers end at their
        matching bracket; strings at their quote; anything else at the next delimiter. Brackets are
        only counted, not matched: the JSON parser judges the text afterwards."""
        limits = limits or self.limits
        start = i = self.pos
        buf = self.buf
        first = buf[start]
        reason: str | None = None
        depth = 0
        in_string = first == '"'
        string_start = start
        jump_from, window = 0, 4096  # where a jump over skipped text may next be tried, and how far
        if in_string:
            i += 1
        elif first not in "[{":
            return self._take_token(collect)
        while True:
            if in_string:
                e = _string_end(buf, i)
                if e < len(buf) and buf[e] == '"':
                    i = e + 1
                    in_string = False
                    if reason is None and i - string_start - 2 > limits.string_chars:
                        reason = f"a string is longer than {limits.string_chars:,} characters"
                    if depth == 0:
                        break
                    continue
                i = e  # the string goes on past the buffer (from e: backslashes that may escape what comes)
                if reason is None and i - string_start - 1 > limits.string_chars:
                    reason = f"a string is longer than {limits.string_chars:,} characters"
            else:
                m = _INNER.match(buf, i)
                e = m.end()  # type: ignore[union-attr]
                if reason is None and e - i > limits.string_chars:
                    reason = _long_string(buf, i, e, limits.string_chars)
                if e < len(buf):
                    c = buf[e]
                    if c == '"':
                        in_string = True
                        string_start = e
                        i = e + 1
                        continue
                    i = e + 1
                    skipping = reason is not None or not collect
                    if c in "[{":
                        depth += 1
                        if skipping:  # a run of opening brackets at once
                            run = _OPENS.match(buf, i).end()  # type: ignore[union-attr]
                            depth, i = depth + run - i, run
                        if depth > limits.depth and reason is None:
                            reason = f"nested deeper than {limits.depth} levels"
                    else:
                        depth -= 1
                        if depth == 0:
                            break
                        if skipping:  # a run of closing brackets at once
                            run = _CLOSES.match(buf, i).end() - i  # type: ignore[union-attr]
                            if run >= depth:
                                i += depth
                                break
                            depth, i = depth - run, i + run
                    if i >= jump_from and (reason is not None or not collect):
                        j, depth, jump_from = _skip_refused(buf, i, depth, window)
                        window = min(window * 2, 1 << 20) if j != i else 4096
                        i = j
                    continue
                i = e
            # the buffer is used up inside the value: check the size, then read on
            if reason is None and i - start > limits.record_chars:
                reason = f"larger than {limits.record_chars:,} characters"
            keep = start if collect and reason is None else i
            try:
                shift = self.more(keep)
            except _Truncated:
                self.pos = len(self.buf)
                raise
            buf = self.buf
            jump_from = 0
            start -= shift
            i -= shift
            string_start -= shift
        if reason is None and i - start > limits.record_chars:
            reason = f"larger than {limits.record_chars:,} characters"
        self.pos = i
        if reason is not None or not collect:
            return None, reason
        return buf[start:i], None

    def _take_token(self, collect: bool) -> tuple[str | None, str | None]:
        """A number, literal, or stray text: up to the next delimiter (a lone stray bracket or quote-less
        delimiter is one character)."""
        limits = self.limits
        start = self.pos
        reason = None
        while True:
            e = _TOKEN.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if e < len(self.buf):
                break
            self.pos = e
            if reason is None and e - start > limits.record_chars:
                reason = f"larger than {limits.record_chars:,} characters"
            keep = start if collect and reason is None else e
            start -= self.more(keep)
        if e == start:
            e += 1
        self.pos = e
        if reason is not None or not collect:
            return None, reason
        return self.buf[start:e], None

    def fill(self, n: int) -> None:
        """Read on until ``n`` characters after ``pos`` are in the buffer, or the text ends. Damage met
        (corrupt gzip) is kept and raised only when the careful path needs the text past it, so every
        record before it is still read."""
        while len(self.buf) - self.pos < n and self._damage is None:
            try:
                self.more(self.pos)
            except _Truncated:
                return
            except SourceError as exc:
                self._damage = exc

    def fast_record(self) -> tuple[Any, int] | None:
        """The object at ``pos`` parsed in one C call when it lies whole in the buffer and is plainly
        within the limits (few enough brackets, short enough); ``None`` sends it the careful way."""
        buf, pos = self.buf, self.pos
        try:
            value, end = _decoder.raw_decode(buf, pos)
        except (ValueError, RecursionError):  # cut by the buffer's end, invalid, deep or a huge integer
            return None
        if end - pos > min(self.limits.string_chars, self.limits.record_chars):
            return None
        if buf.count("{", pos, end) + buf.count("[", pos, end) > self.limits.depth and \
                _too_deep(buf[pos:end], self.limits.depth):
            return None
        return value, end


def _long_string(buf: str, i: int, e: int, limit: int) -> str | None:
    """Whether a stretch of text longer than the string limit holds a string that long."""
    for m in _STRING.finditer(buf, i, e):
        if m.end() - m.start() - 2 > limit:
            return f"a string is longer than {limit:,} characters"
    return None


def _string_end(buf: str, i: int) -> int:
    """The closing quote of the string whose text goes on at ``i``, or where the buffer ends inside it
    (before a final run of backslashes, which may escape the next chunk's first character). A quote is
    escaped when an odd number of backslashes precede it; ``find`` runs at memchr speed."""
    j = buf.find('"', i)
    while j >= 0:
        k = j
        while k > i and buf[k - 1] == "\\":
            k -= 1
        if (j - k) % 2 == 0:
            return j
        j = buf.find('"', j + 1)
    run = min(len(buf) - len(buf.rstrip("\\")), len(buf) - i)
    return len(buf) - run % 2  # pairs of backslashes are complete escapes; an odd one waits for its char


def _too_deep(text: str, limit: int) -> bool:
    """Whether valid JSON ``text`` nests deeper than ``limit``: its brackets outside strings, then each
    pass removes the innermost pairs, all in C; a value of depth d is gone after d passes."""
    signs, _ = _outside_brackets(text, 0, len(text))
    for _ in range(limit):
        signs = signs.replace(b"()", b"")
        if not signs:
            return False
    return True


def _skip_refused(buf: str, i: int, depth: int, window: int) -> tuple[int, int, int]:
    """Inside a value being skipped: jump over up to ``window`` characters of complete text when they
    cannot bring the depth to zero, counting brackets in C rather than one by one (a gzip bomb of
    ``[[[[...``, ``[],[],...`` or ``{"a":[{"a":...`` must not take minutes). Returns the new position
    and depth, and the end of the text examined (the position is unchanged when it was not jumped).

    Only the brackets outside strings matter, as +1 and -1: adjacent ``()`` pairs are removed a few
    passes over (which keeps the lowest depth reached), and if the closing brackets left cannot reach
    zero from ``depth``, neither can the text."""
    signs, k = _outside_brackets(buf, i, i + window)
    if k - i < 1024:  # not worth it: step through
        return i, depth, k
    for _ in range(8):
        shorter = signs.replace(b"()", b"")
        if len(shorter) == len(signs):
            break
        signs = shorter
    closes = signs.count(b")")
    if depth - closes <= 0:
        return i, depth, k
    return k, depth + len(signs) - 2 * closes, k


def _outside_brackets(buf: str, i: int, end: int) -> tuple[bytes, int]:
    """The brackets outside strings in ``buf[i:k]`` as ``(`` and ``)``, and ``k``: ``end`` or the opening
    quote of a string that ``end`` cuts. ``i`` is outside strings.

    Fast way, for text without escaped quotes: keep only quotes and brackets, drop every adjacent ``""``;
    if no quote is left, every run of quotes between brackets had even length from an even quote
    index, so each bracket left lay between strings, not in one. Otherwise, strings removed one by one."""
    text = buf[i:end]
    if '\\"' not in text:
        if text.count('"') % 2:
            text = text[:text.rfind('"')]
        signs = text.encode("utf-8", "surrogatepass").translate(_SIGNS, _NOT_SIGNS).replace(b'""', b"")
        if b'"' not in signs:
            return signs, i + len(text)
    k = _COMPLETE.match(buf, i, end).end()  # type: ignore[union-attr]
    text = _STRING.sub("", buf[i:k])
    return text.encode("utf-8", "surrogatepass").translate(_SIGNS, _NOT_SIGNS), k


def read_records(reader: Reader, name: str, on_bad_record: BadRecord) -> Iterator[dict[str, Any]]:
    """Yield each record of the log file ``reader`` holds; raise ``NotCloudTrail`` or ``SourceError``
    (naming ``name``) when its structure is broken, after yielding every record read before."""
    try:
        yield from _read(reader, name, on_bad_record)
    except _Truncated:
        raise SourceError(f"{name}: truncated: the text ends inside the log object "
                          f"(after {reader.consumed + reader.pos:,} characters)") from None


def _read(reader: Reader, name: str, on_bad_record: BadRecord) -> Iterator[dict[str, Any]]:
    c = reader.skip_ws()
    if not c:
        raise NotCloudTrail(f"{name}: empty file")
    shape = f"{name}: not a CloudTrail log file (expected {{\"Records\": [...]}})"
    if c != "{":
        raise NotCloudTrail(shape)
    reader.pos += 1
    index = 0
    first = True
    while True:
        c = reader.skip_ws()
        if c == "}" and first:
            raise NotCloudTrail(shape)
        if c != '"':
            raise _broken(reader, name, "a key")
        key, _ = reader.take_value(limits=_KEY_LIMITS)
        if first and key != '"Records"':
            raise NotCloudTrail(shape)
        first = False
        if reader.skip_ws() != ":":
            raise _broken(reader, name, "':'")
        reader.pos += 1
        c = reader.skip_ws()
        if not c:
            raise _Truncated
        if key == '"Records"':
            if c != "[":
                raise SourceError(f"{name}: Records is not a list (it starts with {c!r})")
            reader.pos += 1
            index = yield from _records(reader, on_bad_record, index)
        else:
            reader.take_value(collect=False)
        c = reader.skip_ws()
        if c == ",":
            reader.pos += 1
            continue
        if c == "}":
            reader.pos += 1
            break
        raise _broken(reader, name, "',' or '}'")
    if reader.skip_ws():
        raise SourceError(f"{name}: invalid JSON: unexpected text after the log object "
                          f"at character {reader.consumed + reader.pos:,}")


def _broken(reader: Reader, name: str, expected: str) -> Exception:
    if reader.pos >= len(reader.buf):
        return _Truncated()
    return SourceError(f"{name}: invalid JSON: expected {expected} at character {reader.consumed + reader.pos:,}, "
                       f"found {reader.buf[reader.pos]!r}")


def _records(reader: Reader, on_bad_record: BadRecord, index: int) -> Generator[dict[str, Any], None, int]:
    """The items of one ``Records`` array; returns the next index. Runs of records are parsed at once
    where ``batch`` can take them for certain; a run it refuses is not tried again until the careful
    path has read past it, so a file it cannot take costs at most one extra parse of its text."""
    run = min(reader.limits.string_chars, reader.limits.record_chars, 16384)
    retry_at = 0  # the position (from the start of the text) before which no run is tried
    while True:
        c = reader.skip_ws(_WS_COMMAS)
        if c == "]":
            reader.pos += 1
            return index
        if not c:
            raise _Truncated
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
            fast = reader.fast_record()
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
            except ValueError as exc:
                on_bad_record(index, f"invalid JSON: {exc}")
            else:
                if isinstance(record, dict):
                    yield record
                else:
                    on_bad_record(index, f"record is a JSON {json_name(record)}, not an object")
        index += 1
