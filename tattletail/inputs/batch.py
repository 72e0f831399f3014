"""Many records in one C call: the fast way through the text of a log file, exact or not taken at all.

Parsing is the floor under everything the engine does, and Python's ``json`` builds objects at about half
the speed of ``orjson``. ``orjson`` cannot stop after one value, so instead of asking it where a record
ends, a *run* of records is cut at a likely boundary and parsed as an array: ``[`` + text + ``]``. The
text starts where a record starts, outside any string, exactly as the file's own ``Records`` array goes on
there; so if the wrapped text is valid JSON, its items ARE the file's records at that place (a cut inside
a record leaves brackets unbalanced and is rejected). A run is at most ``min(string, record)`` limit
characters long, so no record or string in it can be past those limits; the depth is checked on the
text. Whatever this path does not take for certain goes the careful way (``recordstream``), one record
at a time:

- a cut that is not a record boundary, a missing or doubled comma, anything that is not valid JSON;
- what ``orjson`` reads differently from jq and ``json``: integers of 19 digits or more (orjson turns
  those past 64 bits into floats; a run holding 19 digits in a row anywhere is not taken), numbers past
  a double's range, ``NaN``, lone surrogates (orjson refuses these, ``json`` reads them);
- a run in which some item is not an object (a bad record, which must be reported with its index).

Without ``orjson`` installed, nothing is taken here and every record goes the careful way.

A run taken whose text holds no run of 16 digits is *vouched* exact (``jq.recordtext.vouch``): every number
in it is an integer below 10^15 (so below 2^53) or a finite float, and no string holds a lone surrogate
(``orjson`` refused those), so the compiled rules need not walk its values to know they are exact.
"""

from __future__ import annotations

import re
from typing import Any

from tattletail.jq.recordtext import vouch

try:
    import orjson
except ImportError:  # pragma: no cover - the dependency is declared; the careful path still reads everything
    orjson = None  # type: ignore[assignment]

# AWS writes each record with eventVersion first: the likeliest boundary, then any "},{" (also as
# Python's json.dumps writes them, with a space).
_BOUNDARIES = ('},{"eventVersion"', '}, {"eventVersion"', "},{", "}, {")
_DIGITS = bytes(0x39 if 0x30 <= c <= 0x39 else 0x20 for c in range(256))  # digits as "9", the rest as " "
_LONG_DIGITS = b"9" * 19
_EXACT_DIGITS = b"9" * 16
_SIGNS = bytes.maketrans(b"[{]}", b"(())")
_NOT_SIGNS = bytes(c for c in range(256) if c not in b'[]{}"')
_STRINGS = re.compile(rb'"[^"]*"')


def too_deep(data: bytes, limit: int) -> bool:
    """Whether the UTF-8 text of valid JSON values nests deeper than ``limit``, all in C: escaped
    backslashes and quotes removed, every quote left is a string's delimiter; keeping only quotes and
    brackets, then dropping adjacent quote pairs (which changes no bracket's parity) and the few strings
    left (those holding brackets), leaves the brackets outside strings; each pass then removes the
    innermost pairs, so text of depth d is gone after d passes."""
    if b"\\" in data:
        data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    signs = data.translate(_SIGNS, _NOT_SIGNS).replace(b'""', b"")
    if b'"' in signs:
        signs = _STRINGS.sub(b"", signs)
    for _ in range(limit):
        signs = signs.replace(b"()", b"")
        if not signs:
            return False
    return True


def parse_run(buf: str, pos: int, size: int, depth: int) -> tuple[list[dict[str, Any]], int] | None:
    """The records of ``buf`` from ``pos`` (where a record starts) up to a boundary within ``size``
    characters, and the position after the last one; ``None`` when no run can be taken for certain
    (records nested deeper than ``depth`` included)."""
    if orjson is None:
        return None
    end = min(len(buf), pos + size)
    for boundary in _BOUNDARIES:
        cut = buf.rfind(boundary, pos, end)
        if cut >= 0:
            break
    else:
        return None
    text = buf[pos:cut + 1]
    data = text.encode("utf-8", "surrogatepass")
    digits = data.translate(_DIGITS)
    if _LONG_DIGITS in digits or too_deep(data, depth):
        return None
    try:
        records = orjson.loads(f"[{text}]")
    except orjson.JSONDecodeError:
        return None
    for record in records:
        if type(record) is not dict:
            return None
    if _EXACT_DIGITS not in digits:  # every integer below 10^15 < 2^53, so exact (jq.recordtext.exact)
        vouch(records)
    return records, cut + 1
