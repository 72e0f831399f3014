"""An evaluator of CloudWatch Logs JSON metric-filter patterns, independent of jq, to check the CIS rules.

Supports what the CIS patterns use: ``{ ... }``, ``$.a.b = value`` and ``!=`` (quoted or bare values,
``*`` wildcards), ``NOT EXISTS``, ``&&``, ``||`` and parentheses (``&&`` binding tighter). As in
CloudWatch, a comparison only matches a field that is present with a string value.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

_TOKEN = re.compile(r'\s*(\(|\)|&&|\|\||!=|=|NOT EXISTS|\$\.[A-Za-z0-9_.]+|"[^"]*"|[A-Za-z0-9_.*:-]+)')
Predicate = Callable[[dict[str, Any]], bool]


def _tokens(text: str) -> list[str]:
    text = text.strip()
    if not (text.startswith("{") and text.endswith("}")):
        raise ValueError(f"not a JSON filter pattern: {text}")
    body, pos, out = text[1:-1], 0, []
    while body[pos:].strip():
        m = _TOKEN.match(body, pos)
        if not m:
            raise ValueError(f"cannot read {body[pos:]!r}")
        out.append(m.group(1))
        pos = m.end()
    return out


def _field(record: Any, selector: str) -> tuple[bool, Any]:
    for key in selector[2:].split("."):
        if not isinstance(record, dict) or key not in record:
            return False, None
        record = record[key]
    return True, record


def _value_matcher(raw: str) -> Callable[[str], bool]:
    value = raw[1:-1] if raw.startswith('"') else raw
    if "*" not in value:
        return lambda s: s == value
    pattern = re.compile("".join(".*" if ch == "*" else re.escape(ch) for ch in value) + r"\Z", re.S)
    return lambda s: pattern.match(s) is not None


def compile_pattern(text: str) -> Predicate:
    tokens = _tokens(text)
    pos = 0

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> str:
        nonlocal pos
        pos += 1
        return tokens[pos - 1]

    def term() -> Predicate:
        if peek() == "(":
            take()
            inner = disjunction()
            if take() != ")":
                raise ValueError("expected )")
            return inner
        selector = take()
        if not selector.startswith("$."):
            raise ValueError(f"expected a selector, found {selector!r}")
        op = take()
        if op == "NOT EXISTS":
            return lambda r: not _field(r, selector)[0]
        matches = _value_matcher(take())

        def compare(r: dict[str, Any]) -> bool:
            present, value = _field(r, selector)
            if not present or not isinstance(value, str):
                return False
            return matches(value) if op == "=" else not matches(value)

        return compare

    def conjunction() -> Predicate:
        parts = [term()]
        while peek() == "&&":
            take()
            parts.append(term())
        return lambda r: all(p(r) for p in parts)

    def disjunction() -> Predicate:
        parts = [conjunction()]
        while peek() == "||":
            take()
            parts.append(conjunction())
        return lambda r: any(p(r) for p in parts)

    result = disjunction()
    if pos != len(tokens):
        raise ValueError(f"unexpected {tokens[pos]!r}")
    return result
