"""jq's operators and the value functions behind builtins (``+ - * /``, comparisons, ``contains``,
``length``, negation), each as libjq's ``jv`` function computes it, with its error message.

Kept apart from the compiler because these are pure functions of values (no AST, no modes): the
compiler wires them to nodes, the builtins reuse them (``join`` is jq's reduce over ``+``, ``split``
is string division), and a conformance fix to an operator lands in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tattletail.jq.paths import INT_MAX
from tattletail.jq.values import Double, Fallback, JqError, compare, equal, error_value, type_name


def add(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    ta, tb = type_name(a), type_name(b)
    if ta == tb == "number":
        return Double(float(a) + float(b))
    if ta == tb and ta in ("string", "array"):
        return a + b
    if ta == tb == "object":
        return {**a, **b}
    raise JqError(f"{error_value(a)} and {error_value(b)} cannot be added")


def _sub(a: Any, b: Any) -> Any:
    ta, tb = type_name(a), type_name(b)
    if ta == tb == "number":
        return Double(float(a) - float(b))
    if ta == tb == "array":
        return [x for x in a if not any(equal(x, y) for y in b)]
    raise JqError(f"{error_value(a)} and {error_value(b)} cannot be subtracted")


def _mul(a: Any, b: Any) -> Any:
    ta, tb = type_name(a), type_name(b)
    if ta == tb == "number":
        return Double(float(a) * float(b))
    if {ta, tb} == {"string", "number"}:
        text, d = (a, float(b)) if ta == "string" else (b, float(a))
        n = -1 if d < 0 or d != d else INT_MAX if d > INT_MAX else int(d)
        if n < 0:
            return None
        size = len(text.encode("utf-8")) * n
        if size >= INT_MAX - 16:
            raise JqError("Repeat string result too long") if size >= INT_MAX else Fallback("repeat near the limit")
        if size > 10_000_000:
            raise Fallback("a very long repeated string")
        return text * n
    if ta == tb == "object":
        return _deep_merge(a, b)
    raise JqError(f"{error_value(a)} and {error_value(b)} cannot be multiplied")


def _deep_merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        out[k] = _deep_merge(out[k], v) if isinstance(out.get(k), dict) and isinstance(v, dict) else v
    return out


def split_text(text: str, sep: str) -> list[str]:
    if text == "":
        return []
    return list(text) if sep == "" else text.split(sep)


def _div(a: Any, b: Any) -> Any:
    ta, tb = type_name(a), type_name(b)
    if ta == tb == "string":
        return split_text(a, b)
    if ta == tb == "number":
        if b == 0:
            raise JqError(f"{error_value(a)} and {error_value(b)} cannot be divided because the divisor is zero")
        return Double(float(a) / float(b))
    raise JqError(f"{error_value(a)} and {error_value(b)} cannot be divided")


COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": equal,
    "!=": lambda a, b: not equal(a, b),
    "<": lambda a, b: compare(a, b) < 0,
    "<=": lambda a, b: compare(a, b) <= 0,
    ">": lambda a, b: compare(a, b) > 0,
    ">=": lambda a, b: compare(a, b) >= 0,
}
ARITH: dict[str, Callable[[Any, Any], Any]] = {"+": add, "-": _sub, "*": _mul, "/": _div}


def _kind(v: Any) -> Any:
    """``jv_get_kind``: like ``type_name`` but ``true`` and ``false`` are different kinds."""
    return v if v is True or v is False else type_name(v)


def contains(a: Any, b: Any) -> bool:
    """``contains``: the outer kinds must agree (an error otherwise); inside, other kinds do not contain."""
    if _kind(a) != _kind(b):
        raise JqError(f"{error_value(a)} and {error_value(b)} cannot have their containment checked")
    return _contained(a, b)


def _contained(a: Any, b: Any) -> bool:
    ka = _kind(a)
    if ka != _kind(b):
        return False
    if ka == "object":
        return all(k in a and _contained(a[k], v) for k, v in b.items())
    if ka == "array":
        return all(any(_contained(x, y) for x in a) for y in b)
    if ka == "string":
        return b in a
    return equal(a, b)


def length(v: Any) -> Any:
    if v is None:
        return 0
    if v is True or v is False:
        raise JqError(f"{error_value(v)} has no length")
    if isinstance(v, int | float):
        return Double(abs(v)) if type(v) is Double else abs(v)  # abs keeps a literal a literal
    return len(v)


def negate(v: Any) -> Any:
    if not isinstance(v, int | float) or isinstance(v, bool):
        raise JqError(f"{error_value(v)} cannot be negated")
    if type(v) is Double:
        return Double(-v)
    return abs(v) if v == 0 else -v  # a literal negates as a decimal: zero has no sign
