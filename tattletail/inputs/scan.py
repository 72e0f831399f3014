"""A cursor over JSON text that arrives in chunks: where values end, and whether they break a limit.

The reader of log files (``recordstream``) needs only to know where each record ends, how deep it nests
and how long it and its strings are, and to skip what it refuses without keeping it. ``Reader`` finds
that with a small scanner that knows only where strings, brackets and commas are, working in bulk
(``str.find``, ``str.count``, regular expressions and byte translations, all in C), never a character at
a time in Python: whatever a hostile file holds (a 100 MB string of escaped quotes, 10 million
brackets), its cost stays proportional to its length at C speed, and every ``CHECK_EVERY`` characters
``check`` may stop it (the Lambda's deadline). Memory is the chunk being read plus the value being
collected; a value that is skipped is forgotten chunk by chunk.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from tattletail.errors import SourceError


@dataclass(frozen=True)
class Limits:
    """What a record may be; anything larger is refused as a bad record (sizes in characters of JSON
    text as written, escapes and whitespace included)."""

    depth: int = 64
    record_chars: int = 256 << 10
    string_chars: int = 128 << 10


LIMITS = Limits()
CHECK_EVERY = 1 << 20  # characters of text read between two calls of the reader's ``check``
# what an empty chunk counts for: up to one read of compressed input (logfile.READ_SIZE) that gave no text
# (empty deflate blocks, a gzip member holding nothing: 190 MB of them is no text, yet takes time)
EMPTY_CHUNK = 64 * 1024

Check = Callable[[], None]

WS = re.compile(r"[ \t\n\r]*")
WS_COMMAS = re.compile(r"[ \t\n\r,]*")
# Inside a container: everything up to the next bracket, whole strings included (an unterminated string
# at the end of the buffer is left out: the match stops at its quote).
# (Possessive quantifiers: what they match is never given back, so the regex engine keeps no state to
# backtrack into; twice as fast on strings full of escapes, and the same matches.)
_INNER = re.compile(r'[^"\[\]{}]*+(?:"[^"\\]*+(?:\\.[^"\\]*+)*+"[^"\[\]{}]*+)*+', re.S)
_STRING = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+"', re.S)
_COMPLETE = re.compile(r'[^"]*+(?:"[^"\\]*+(?:\\.[^"\\]*+)*+"[^"]*+)*+', re.S)  # up to an unterminated string
_SIGNS = bytes.maketrans(b"[{]}", b"(())")
_NOT_SIGNS = bytes(c for c in range(256) if c not in b'[]{}"')
JUMP_AFTER = 4096  # characters of a refused value stepped through before jumps are tried
_OPENS = re.compile(r"[\[{]*")
_CLOSES = re.compile(r"[\]}]*")
_TOKEN = re.compile(r'[^ \t\n\r,\[\]{}"]*')


class Truncated(Exception):
    """The text ended inside a value."""


class Reader:
    """A cursor over text that arrives in chunks. ``buf[pos:]`` is what is not consumed yet; ``more``
    appends a chunk and forgets everything before the position the caller still needs."""

    def __init__(self, chunks: Iterator[str], limits: Limits = LIMITS, check: Check | None = None) -> None:
        self._chunks = chunks
        self.limits = limits
        self._check = check
        self._unchecked = 0  # characters read since ``check`` was last called
        self.buf = ""
        self.pos = 0
        self.consumed = 0  # characters dropped from the front of buf so far (for positions in messages)
        self._damage: SourceError | None = None  # met while reading ahead; raised when the text is needed

    def more(self, keep: int) -> int:
        """Drop ``buf[:keep]`` and append the next chunk; return the shift applied to indices into
        ``buf`` (subtract it). Raise ``Truncated`` at the end of the text. Once every ``CHECK_EVERY``
        characters read (an empty chunk counting as ``EMPTY_CHUNK``), ``check`` is called: what it raises
        ends the reading (the deadline)."""
        if self._damage is not None:
            raise self._damage
        for chunk in self._chunks:
            self._unchecked += len(chunk) or EMPTY_CHUNK  # an empty chunk is work that produced no text
            if self._check is not None and self._unchecked >= CHECK_EVERY:
                self._unchecked = 0
                self._check()
            if chunk:
                self.buf = self.buf[keep:] + chunk
                self.pos -= keep
                self.consumed += keep
                return keep
        raise Truncated

    def skip_ws(self, pattern: re.Pattern[str] = WS) -> str:
        """Skip whitespace (and, with ``WS_COMMAS``, commas); return the next character ("" at the end)."""
        while True:
            self.pos = pattern.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            try:
                self.more(self.pos)
            except Truncated:
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
        # where a jump over skipped text may next be tried, and how far: not within a refused value's first
        # JUMP_AFTER characters, so a short bad record costs what a good one does (a window examined
        # from inside it would mostly read the records after it, and find they close it)
        jump_from, window = start + JUMP_AFTER, 4096
        if in_string:
            i += 1
        elif first not in "[{":
            return self._take_token(collect)
        while True:
            if in_string:
                e = string_end(buf, i)
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
                    if c in "[{":
                        # a run of opening brackets at once (only counted, so collecting or not)
                        run = _OPENS.match(buf, i).end()  # type: ignore[union-attr]
                        depth, i = depth + 1 + run - i, run
                        if depth > limits.depth and reason is None:
                            reason = f"nested deeper than {limits.depth} levels"
                    else:
                        depth -= 1
                        if depth == 0:
                            break
                        run = _CLOSES.match(buf, i).end() - i  # type: ignore[union-attr]
                        if run >= depth:  # a run of closing brackets at once
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
            except Truncated:
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
            except Truncated:
                return
            except SourceError as exc:
                self._damage = exc


def _long_string(buf: str, i: int, e: int, limit: int) -> str | None:
    """Whether a stretch of text longer than the string limit holds a string that long."""
    for m in _STRING.finditer(buf, i, e):
        if m.end() - m.start() - 2 > limit:
            return f"a string is longer than {limit:,} characters"
    return None


def string_end(buf: str, i: int) -> int:
    """The closing quote of the string whose text goes on at ``i``, or where the buffer ends inside it
    (before a final run of backslashes, which may escape the next chunk's first character).

    A quote is escaped when an odd number of backslashes precede it. The first quote found is nearly
    always the closing one; when it is escaped, the text is examined in growing windows, in bulk: escaped
    backslashes are blanked (``\\\\`` -> ``__``, which keeps positions), then a window holds the closing
    quote iff it holds more quotes than ``\\"`` pairs, and a bisection on those two counts finds it. A run
    of a million ``\\"`` costs a few passes of C over it, not a million steps of Python."""
    j = buf.find('"', i)
    n = len(buf)
    if j < 0:
        run = min(n - len(buf.rstrip("\\")), n - i)
        return n - run % 2  # pairs of backslashes are complete escapes; an odd one waits for its char
    if j == i or buf[j - 1] != "\\":
        return j
    window = 4096
    while True:
        end = min(n, i + window)
        text = buf[i:end]
        run = len(text) - len(text.rstrip("\\"))  # backslashes at the window's end: pairs or not, unknown yet
        if end < n:
            if run == len(text):  # nothing but backslashes: look further before deciding
                window *= 2
                continue
            text = text[:len(text) - run]
        escaped = text.count('\\"')
        if text.count("\\") != escaped and "\\\\" in text:  # some backslash is not before a quote
            text = text.replace("\\\\", "__")
            escaped = text.count('\\"')
        if text.count('"') > escaped:
            return i + _first_unescaped_quote(text)
        if end == n:
            return n - run % 2  # pairs of backslashes are complete escapes; an odd one waits for its char
        i += len(text)
        window = min(window * 2, 1 << 20)


def _first_unescaped_quote(text: str) -> int:
    """The position of the first quote not preceded by a backslash in ``text`` (which has one, and no
    escaped backslash left): the shortest prefix holding more quotes than ``\\"`` pairs ends with it."""
    lo, hi = 1, len(text)  # the prefix of length hi holds one; lo is the shortest length that may
    while lo < hi:
        mid = (lo + hi) // 2
        if text.count('"', 0, mid) > text.count('\\"', 0, mid):
            hi = mid
        else:
            lo = mid + 1
    return hi - 1


def too_deep(text: str, limit: int) -> bool:
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
