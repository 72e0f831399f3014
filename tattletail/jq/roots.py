"""Which top-level fields of a record a program can read (``root_fields``), from its AST.

Only values inside these fields can make the compiled path differ from libjq, so the caller checks only
them for exactness (``recordtext.exact``) instead of the whole record. An analysis of the AST, not part of
compiling it: it answers ``None`` (may read anything) whenever it is unsure.
"""

from __future__ import annotations

from tattletail.jq.nodes import Node, Unsupported
from tattletail.jq.parse import parse


def root_fields(program: str) -> frozenset[str] | None:
    """The record's top-level fields whose values the program can read, or ``None`` when it may read
    anything (the record itself consumed). Only values inside these fields can make the compiled path
    differ from libjq, so only they need the exactness check (``recordtext.exact``)."""
    try:
        found: set[str] = set()
        return frozenset(found) if _roots(parse(program), found) else None
    except (Unsupported, RecursionError):
        return None


def _chain_root(node: Node) -> str | None:
    """``a`` for a path from the record such as ``.a.b``, ``.a[]?``, ``.a[0]``; ``None`` otherwise."""
    kind = node[0]
    if kind == "field" and node[1] == ("identity",):
        return str(node[2])
    if kind in ("field", "iterate", "optional") or (kind == "index" and node[2][0] == "literal"):
        return _chain_root(node[1])
    return None


def _roots(node: Node, found: set[str]) -> bool:
    """Add to ``found`` the top-level fields ``node`` reads when its input is the record; ``False`` when
    it may read the record as a whole."""
    kind = node[0]
    if kind == "literal":
        return True
    if kind == "field" and node[1] == ("identity",):
        found.add(node[2])
        return True
    if kind in ("field", "iterate", "optional"):
        return node[1] != ("identity",) and _roots(node[1], found)
    if kind == "index":
        return node[1] != ("identity",) and _roots(node[1], found) and _roots(node[2], found)
    if kind == "pipe":
        left = node[1]
        key = _chain_root(left)
        if key is not None:
            found.add(key)  # the right side only sees values inside this field
            return True
        if left[0] == "call" and left[1] == "select" and len(left[2]) == 1:
            return _roots(left[2][0], found) and _roots(node[2], found)  # select passes the record on
        return False
    if kind == "call":
        if node[1] == "select" and len(node[2]) == 1:
            return _roots(node[2][0], found)
        return bool(node[1] == "empty")
    if kind == "format":
        return all(isinstance(p, str) or _roots(p, found) for p in node[1])
    if kind in ("and", "or", "alt", "comma"):
        return _roots(node[1], found) and _roots(node[2], found)
    if kind == "binop":
        return _roots(node[2], found) and _roots(node[3], found)
    if kind in ("array", "neg"):
        return _roots(node[1], found)
    if kind == "try":
        return _roots(node[1], found) and (node[2] is None or _roots(node[2], found))
    if kind == "object":
        return all(_roots(k, found) and _roots(v, found) for k, v in node[1])
    if kind == "if":
        return all(_roots(c, found) and _roots(t, found) for c, t in node[1]) and (
            node[2] is None or _roots(node[2], found))
    return False
