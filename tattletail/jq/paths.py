"""jq's paths on values: ``.name``, ``.[key]`` and ``.[]``, with libjq's ``jv_get`` rules and messages.

Shared by the compiler (path steps) and the builtins (``first``, ``last``, ``map``, ``join``, ``any``,
``all``), which in libjq are defined through the same indexing, so both must fail the same way.
``null`` gives ``null`` through a path; other non-containers raise libjq's own error text.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tattletail.jq.values import Fallback, JqError, dump_trunc, equal, error_value, type_name

INT_MAX = 2**31 - 1  # libjq casts indexes and repeat counts to C's int


def get_field(v: Any, name: str) -> Any:
    if isinstance(v, dict):
        return v.get(name)
    if v is None:
        return None
    raise JqError(f"Cannot index {type_name(v)} with string ({dump_trunc(name)})")


def get_index(v: Any, key: Any) -> Any:
    """``jv_get``: objects by string, arrays by number (truncated toward zero) or by array (the indexes
    where it occurs), ``null`` by string or number; anything else is an error."""
    if isinstance(key, str):
        return get_field(v, key)
    if isinstance(key, int | float) and not isinstance(key, bool):
        if isinstance(v, list):
            if key != key:
                return None
            i = int(max(min(key, INT_MAX), -INT_MAX - 1))  # C's (int) cast truncates toward zero
            if i < 0:
                i += len(v)
            return v[i] if 0 <= i < len(v) else None
        if v is None:
            return None
    elif isinstance(v, list) and isinstance(key, list):
        return _indexes(v, key)
    elif isinstance(key, dict) and (v is None or isinstance(v, list | str)):
        if v is None:
            return None
        raise Fallback("slice by object")
    raise JqError(f"Cannot index {type_name(v)} with {type_name(key)} ({dump_trunc(key)})")


def _indexes(a: list[Any], b: list[Any]) -> list[Any]:
    """``jv_array_indexes``, quirks included: where ``b`` occurs in ``a`` as a run of elements."""
    res: list[Any] = []
    for ai in range(len(a)):
        idx = -1
        for bi, belem in enumerate(b):
            same = ai + bi < len(a) and equal(a[ai + bi], belem)
            if not same:
                idx = -1
            elif bi == 0 and idx == -1:
                idx = ai
        if idx > -1:
            res.append(idx)
    return res


def iterate(v: Any) -> Iterable[Any]:
    if isinstance(v, list):
        return v
    if isinstance(v, dict):
        return v.values()
    raise JqError(f"Cannot iterate over {error_value(v)}")
