"""The number policy, in one place: the text libjq reads for a record, and whether the compiled path
can evaluate the record exactly as libjq evaluates that text (``exact``).

The log reader turns integer literals into exact Python ints of any size, other numbers into floats, and
numbers beyond the double range into float infinities. libjq reads a record from the text ``record_text``
writes: ints as their digits, finite floats as Python's shortest round-trip text, infinities as
``1e1000``/``-1e1000``, NaN as ``nan``, lone surrogates as U+FFFD. The compiled path agrees with libjq
as long as numbers compare as their doubles do (ints up to 2^53, finite floats) and strings are read
unchanged: ``exact`` checks that, and a record that fails it is evaluated by libjq, never guessed. The
reader can vouch for records whose text already proves it (``vouch``), sparing the walk.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from tattletail.jq.values import MAX_EXACT_DEPTH, MAX_EXACT_INT


def exact_number(x: Any) -> bool:
    """Whether libjq treats ``x`` (read from ``record_text``'s text for it) exactly as the double ``x``."""
    if isinstance(x, int):
        return -MAX_EXACT_INT <= x <= MAX_EXACT_INT
    return bool(x - x == 0)  # finite


_vouched: dict[int, Any] = {}


def vouch(records: list[Any]) -> None:
    """Record that the reader proved these records ``exact`` from their text (``inputs.batch``: no
    number of 16 digits or more, nothing ``orjson`` refuses: no NaN, infinity or lone surrogate), so
    ``vouched`` can skip the walk over their values. Only the last run of records is kept, and kept
    alive: an id in the table always belongs to the very object vouched for, never to a later one."""
    _vouched.clear()
    for record in records:
        _vouched[id(record)] = record


def vouched(record: Any) -> bool:
    """Whether ``record`` (this very object) was vouched for as exact by the reader."""
    return _vouched.get(id(record)) is record


def exact(v: Any, depth: int = 0) -> bool:
    """Whether the compiled path can evaluate ``v`` exactly as libjq evaluates ``record_text(v)``: every
    number is ``exact_number``, no string (key or value) holds a lone surrogate (libjq reads those
    as U+FFFD), and no container is nested deeper than ``MAX_EXACT_DEPTH``."""
    if isinstance(v, str):
        return v.isascii() or _no_surrogate(v)
    if isinstance(v, dict):
        if depth >= MAX_EXACT_DEPTH:
            return False
        for k, x in v.items():
            if not (k.isascii() or _no_surrogate(k)):
                return False
            if x is not None and not isinstance(x, bool) and not exact(x, depth + 1):
                return False
        return True
    if isinstance(v, list):
        return depth < MAX_EXACT_DEPTH and all(exact(x, depth + 1) for x in v)
    if isinstance(v, int | float) and not isinstance(v, bool):
        return exact_number(v)
    return True


def _no_surrogate(s: str) -> bool:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _number_json(x: int | float) -> str:
    if isinstance(x, int):
        return str(x)
    if x != x:
        return "nan"
    if x in (math.inf, -math.inf):
        return "1e1000" if x > 0 else "-1e1000"
    return repr(x)


def record_text(v: Any, depth: int = 0) -> str:
    """The JSON text libjq must read for ``v`` (see the number policy above): compact, big ints as their
    digits, infinities as ``1e1000``, NaN as ``nan`` (both of which libjq reads). Past
    ``MAX_EXACT_DEPTH`` the rest is written without recursion, so any nesting libjq reads is written."""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, str):
        return _string_text(v)
    if isinstance(v, int | float):
        return _number_json(v)
    if depth >= MAX_EXACT_DEPTH:
        return _deep_record_text(v)
    if isinstance(v, list):
        return "[" + ",".join(record_text(x, depth + 1) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ",".join(_string_text(k) + ":" + record_text(x, depth + 1) for k, x in v.items()) + "}"
    raise TypeError(f"not a JSON value: {type(v).__name__}")


class _Text(str):
    """Text ``_deep_record_text`` writes as it is (not a JSON string to quote)."""

    __slots__ = ()


def _deep_record_text(v: Any) -> str:
    """``record_text`` with a stack of its own instead of Python's (for very deep values)."""
    out: list[str] = []
    todo: list[Any] = [v]
    while todo:
        item = todo.pop()
        if isinstance(item, _Text):
            out.append(item)
        elif isinstance(item, list):
            todo.append(_Text("]"))
            for n in range(len(item) - 1, -1, -1):
                todo.append(item[n])
                if n:
                    todo.append(_Text(","))
            todo.append(_Text("["))
        elif isinstance(item, dict):
            todo.append(_Text("}"))
            pairs = list(item.items())
            for n in range(len(pairs) - 1, -1, -1):
                key, value = pairs[n]
                todo.append(value)
                todo.append(_Text(("," if n else "") + _string_text(key) + ":"))
            todo.append(_Text("{"))
        else:
            out.append(record_text(item))
    return "".join(out)


_SURROGATE = re.compile("[\ud800-\udfff]")


def without_lone_surrogates(s: str) -> str:
    """``s`` with each lone surrogate replaced by U+FFFD, as jq 1.8.2 reads one in JSON text (and as the
    log reader gives it; the ``jq`` binding's parser would refuse the escape)."""
    if s.isascii() or _no_surrogate(s):
        return s
    return _SURROGATE.sub("\ufffd", s)


def _string_text(s: str) -> str:
    """A string for libjq, its lone surrogates as U+FFFD (``without_lone_surrogates``)."""
    return json.dumps(without_lone_surrogates(s))
