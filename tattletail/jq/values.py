"""jq's value semantics in Python, where Python's defaults differ.

- ``false`` and ``0`` are different values (Python: ``False == 0``), in equality and inside containers.
- Every value has a place in jq's total order: null < false < true < numbers < strings < arrays < objects;
  objects compare their sorted key lists first, then their values key by key.
- Numbers print as jq prints them: ``1.0`` is ``1``, in string interpolation and ``tojson`` alike.
- Only ``null`` and ``false`` are false.
"""

from __future__ import annotations

import json
import math
from typing import Any


class JqError(Exception):
    """A jq runtime error (the rule does not match the record; the message says why)."""


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
    raise JqError(f"not a JSON value: {type(v).__name__}")


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
    ra = _rank(a)
    if ra != _rank(b):
        return False
    if ra == 5:
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b, strict=True))
    if ra == 6:
        return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    return bool(a == b)


def compare(a: Any, b: Any) -> int:
    """-1, 0 or 1, in jq's total order."""
    ra, rb = _rank(a), _rank(b)
    if ra != rb:
        return -1 if ra < rb else 1
    if ra in (3, 4):
        return -1 if a < b else (1 if a > b else 0)
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


def number_text(x: float | int) -> str:
    """A number as jq 1.6/1.7 prints it (17 significant digits, integral values without a fraction)."""
    if isinstance(x, bool):
        raise JqError("not a number")
    if isinstance(x, int):
        x = float(x) if abs(x) >= 2**53 else x
        if isinstance(x, int):
            return str(x)
    if math.isnan(x):
        return "null"
    if math.isinf(x):
        return "1.7976931348623157e+308" if x > 0 else "-1.7976931348623157e+308"
    if x == int(x) and abs(x) < 1e17:
        return str(int(x))
    text = repr(x)
    if "e" in text:
        mantissa, exp = text.split("e")
        sign = "-" if exp.startswith("-") else "+"
        text = f"{mantissa}e{sign}{int(exp.lstrip('+-')):02d}"
    return text


def _string_json(s: str) -> str:
    text = json.dumps(s, ensure_ascii=False)
    return text.replace("\x7f", "\\u007f")


def tojson(v: Any) -> str:
    """Compact JSON text as jq writes it."""
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
    raise JqError(f"not a JSON value: {type(v).__name__}")


def tostring(v: Any) -> str:
    return v if isinstance(v, str) else tojson(v)


def error_value(v: Any) -> str:
    """How jq quotes a value in an error message: ``null (null)``, ``number (5)``."""
    text = tojson(v)
    if len(text) > 11:
        text = text[:10] + "..."
    return f"{type_name(v)} ({text})"


def normalize(v: Any) -> Any:
    """A value as it comes back from jq: integral floats as ints (jq has only one number type)."""
    if isinstance(v, float) and v == v and v not in (math.inf, -math.inf) and v == int(v) and abs(v) < 2**53:
        return int(v)
    if isinstance(v, list):
        return [normalize(x) for x in v]
    if isinstance(v, dict):
        return {k: normalize(x) for k, x in v.items()}
    return v
