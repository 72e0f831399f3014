"""jq's value semantics in Python, ported from libjq 1.8.2 (``jv.c``, ``jv_aux.c``, ``jv_print.c``).

- ``false`` and ``0`` are different values (Python: ``False == 0``), in equality and inside containers.
- Every value has a place in jq's total order: null < false < true < numbers < strings < arrays < objects;
  objects compare their sorted key lists first, then their values key by key; NaN sorts below numbers.
- A computed number (``Double``) prints as libjq prints a double (``jvp_dtoa_fmt``: ``1e-05``, ``1e+16``,
  ``123456789012345680``; NaN ``null``, infinities the largest double); a number read from the record or
  the program prints as libjq prints its literal (``1.0``, ``0.00001``, ``1E+16``).
- Only ``null`` and ``false`` are false.

How a record's numbers reach libjq, and when the compiled path may evaluate a record itself, is the
number policy of ``recordtext``. Program literals must print as their ``repr`` would (``parse``).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

MAX_EXACT_INT = 2**53
MAX_EXACT_DEPTH = 200
"""Nesting beyond which a value is not ``exact``: the compiled path (recursive Python) leaves values
that deep to libjq, whose limit is 10000, rather than risk Python's stack (the log reader stops at 64;
the Python API does not)."""
_KIND_ORDER = {type(None): 0, bool: 1, int: 3, float: 3, str: 4, list: 5, dict: 6}


class Double(float):
    """A number computed by jq arithmetic (a native double in libjq, printed by ``jvp_dtoa_fmt``)."""

    __slots__ = ()


class JqError(Exception):
    """A jq runtime error (the rule does not match the record). ``value`` is jq's error value; the text
    is jq's own for it, as the libjq paths report it too (``rules.code_program``): a string as it is,
    anything else as libjq's ``tojson`` prints it (``error(1.0)`` is "1.0", a computed 1 is "1")."""

    def __init__(self, value: Any) -> None:
        super().__init__(value)
        self.value = value

    def __str__(self) -> str:
        return self.value if isinstance(self.value, str) else tojson(self.value)


class Fallback(Exception):  # noqa: N818 - not an error: a request
    """The compiled path cannot give libjq's exact answer for this value: evaluate it with libjq."""


def type_name(v: Any) -> str:
    if v is None:
        return "null"
    if v is True or v is False:
        return "boolean"
    if isinstance(v, int | float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    raise Fallback(f"not a JSON value: {type(v).__name__}")


def json_name(v: Any) -> str:
    """The JSON (jq) name of a parsed value's type, for messages a user reads: ``object``, ``null``,
    ``array``, never Python's ``dict``, ``NoneType``, ``list``; a number of any kind (``Decimal`` from
    the streaming parser too) is ``number``."""
    try:
        return type_name(v)
    except Fallback:
        return "number" if isinstance(v, numbers.Number) else type(v).__name__


def truthy(v: Any) -> bool:
    return v is not None and v is not False


def _rank(v: Any) -> int:
    if v is None:
        return 0
    if v is False:
        return 1
    if v is True:
        return 2
    if isinstance(v, int | float):
        return 3
    if isinstance(v, str):
        return 4
    if isinstance(v, list):
        return 5
    return 6


def equal(a: Any, b: Any) -> bool:
    """``jv_equal``: kinds first, numbers as doubles (NaN equals nothing), containers element-wise."""
    ra = _rank(a)
    if ra != _rank(b):
        return False
    if ra == 5:
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b, strict=True))
    if ra == 6:
        return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    return bool(a == b)


def compare(a: Any, b: Any) -> int:
    """``jv_cmp``: negative, 0 or positive, in jq's total order (NaN below every number, itself too)."""
    ra, rb = _rank(a), _rank(b)
    if ra != rb:
        return -1 if ra < rb else 1
    if ra == 3:
        if a != a:
            return -1
        if b != b:
            return 1
        return -1 if a < b else (0 if a == b else 1)
    if ra == 4:
        return -1 if a < b else (1 if a > b else 0)  # code points order as UTF-8 bytes do
    if ra == 5:
        for x, y in zip(a, b, strict=False):
            c = compare(x, y)
            if c:
                return c
        return -1 if len(a) < len(b) else (1 if len(a) > len(b) else 0)
    if ra == 6:
        ka, kb = sorted(a), sorted(b)
        c = compare(ka, kb)
        if c:
            return c
        for k in ka:
            c = compare(a[k], b[k])
            if c:
                return c
    return 0


def _digits(x: float) -> tuple[str, int]:
    """The shortest round-trip digits of ``abs(x)`` (no leading/trailing zeros) and the decimal point's
    position, as ``dtoa`` mode 0 gives them (``"15", 1`` for 1.5; ``"", 1`` for 0)."""
    text = repr(abs(x))
    mantissa, _, exp = text.partition("e")
    whole, _, frac = mantissa.partition(".")
    digits, point = whole + frac, len(whole) + (int(exp) if exp else 0)
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    return stripped.rstrip("0"), point


def number_text(x: float | int) -> str:
    """A number as libjq prints it: a literal from its text, a ``Double`` as ``jvp_dtoa_fmt`` does."""
    if type(x) is float and x - x == 0:  # a finite literal float: libjq read it from its repr
        return literal_text(repr(x)) or double_text(x)
    return double_text(x)


def double_text(x: float | int) -> str:
    """A number as libjq prints a double (``jvp_dtoa_fmt``); ints beyond 2^53 are rounded as jq does."""
    if isinstance(x, int):
        if -MAX_EXACT_INT <= x <= MAX_EXACT_INT:
            return str(x)
        x = float(x)
    if x != x:
        return "null"
    if x in (math.inf, -math.inf):
        x = math.copysign(1.7976931348623157e308, x)
    sign = "-" if math.copysign(1.0, x) < 0 else ""
    digits, point = _digits(x)
    if not digits:
        return sign + "0"
    if point <= -4 or point > len(digits) + 15:
        exp = point - 1
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return f"{sign}{digits[:point]}.{digits[point:]}"


def literal_text(text: str) -> str | None:
    """How libjq 1.8 prints the number literal ``text`` (decNumber's to-scientific-string), or ``None``
    when it is not a plain decimal literal."""
    sign = ""
    if text.startswith("-"):
        sign, text = "-", text[1:]
    mantissa, _, exp_text = text.lower().partition("e")
    whole, _, frac = mantissa.partition(".")
    if not (whole + frac).isdigit() or (exp_text and not exp_text.lstrip("+-").isdigit()):
        return None
    coefficient = (whole + frac).lstrip("0") or "0"
    exponent = (int(exp_text) if exp_text else 0) - len(frac)
    adjusted = exponent + len(coefficient) - 1
    if exponent <= 0 and adjusted >= -6:
        if exponent == 0:
            return sign + coefficient
        if len(coefficient) > -exponent:
            return f"{sign}{coefficient[:exponent]}.{coefficient[exponent:]}"
        return f"{sign}0.{'0' * (-exponent - len(coefficient))}{coefficient}"
    rest = "." + coefficient[1:] if len(coefficient) > 1 else ""
    return f"{sign}{coefficient[0]}{rest}E{'+' if adjusted >= 0 else '-'}{abs(adjusted)}"


_ESCAPES = {"\b": "\\b", "\t": "\\t", "\r": "\\r", "\n": "\\n", "\f": "\\f", '"': '\\"', "\\": "\\\\"}


def _string_json(s: str) -> str:
    """``jvp_dump_string``: ASCII controls and DEL escaped, everything else (non-ASCII too) as it is."""
    if s.isascii() and s.isprintable() and '"' not in s and "\\" not in s:
        return '"' + s + '"'
    out = []
    for c in s:
        if c in _ESCAPES:
            out.append(_ESCAPES[c])
        elif c < " " or c == "\x7f":
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def tojson(v: Any) -> str:
    """Compact JSON text as libjq writes it (``tojson``, ``tostring``, interpolation)."""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int | float):
        return number_text(v)
    if isinstance(v, str):
        return _string_json(v)
    if isinstance(v, list):
        return "[" + ",".join(tojson(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ",".join(_string_json(k) + ":" + tojson(x) for k, x in v.items()) + "}"
    raise Fallback(f"not a JSON value: {type(v).__name__}")


def tostring(v: Any) -> str:
    return v if isinstance(v, str) else tojson(v)


def dump_trunc(v: Any, bufsize: int = 30) -> str:
    """``jv_dump_string_trunc``: a value's JSON text cut to ``bufsize - 1`` bytes with ``...``."""
    if isinstance(v, str) and len(v.encode("utf-8")) > bufsize:
        v = v[:bufsize]  # jv_string_slice counts code points
    text = tojson(v).encode("utf-8")
    if len(text) <= bufsize - 1:
        return text.decode("utf-8")
    delim = {ord('"'): b'"', ord("["): b"]", ord("{"): b"}"}.get(text[0], b"")
    keep = bufsize - (5 if delim else 4)
    while keep > 0 and (text[keep] & 0xC0) == 0x80:  # back to the start of a UTF-8 character
        keep -= 1
    return (text[:keep] + b"..." + delim).decode("utf-8")


def error_value(v: Any) -> str:
    """How libjq quotes a value in an error message: ``null (null)``, ``number (5)``."""
    return f"{type_name(v)} ({dump_trunc(v)})"


def normalize(v: Any, depth: int = 0) -> Any:
    """A value as the ``jq`` binding gives it back (``_jv_to_python``): numbers through doubles, integral
    ones as ints, infinities as the largest double, NaN as ``None`` (past ``MAX_EXACT_DEPTH`` without
    recursion)."""
    if isinstance(v, float):
        if v != v:
            return None
        if v in (math.inf, -math.inf):
            return math.copysign(_DBL_MAX, v)
        return int(v) if v == int(v) else v
    if isinstance(v, int) and not isinstance(v, bool) and not -MAX_EXACT_INT <= v <= MAX_EXACT_INT:
        try:
            return int(float(v))
        except OverflowError:
            return math.copysign(_DBL_MAX, v)
    if isinstance(v, list | dict) and depth >= MAX_EXACT_DEPTH:
        return _deep_normalize(v)
    if isinstance(v, list):
        return [normalize(x, depth + 1) for x in v]
    if isinstance(v, dict):
        return {k: normalize(x, depth + 1) for k, x in v.items()}
    return v


def _deep_normalize(v: Any) -> Any:
    """``normalize`` with a stack of its own: containers are copied, then their slots normalized."""
    root = [v]
    todo: list[tuple[Any, Any]] = [(root, 0)]
    while todo:
        holder, key = todo.pop()
        x = holder[key]
        if isinstance(x, list):
            holder[key] = x = list(x)
            todo.extend((x, n) for n in range(len(x)))
        elif isinstance(x, dict):
            holder[key] = x = dict(x)
            todo.extend((x, k) for k in x)
        else:
            holder[key] = normalize(x)
    return root[0]


_DBL_MAX = 1.7976931348623157e308
