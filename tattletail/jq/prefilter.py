"""Necessary conditions of jq rules, so records no rule can match skip evaluation entirely.

Most CloudTrail records match no rule. For a rule such as ``select(.eventName == "X") | ...`` the record
can only match when ``.eventName`` is the string ``"X"``; such a condition is *necessary*, so skipping
the rule when it does not hold never changes a match (a test shows identical matches with and without).

The analysis reads the program's AST (``parse``) and only recognises, at the start of the pipeline,
``select(C)`` stages or a program that is itself a boolean ``C``, where ``C`` is built from
``PATH == "literal"``, ``"literal" == PATH``, ``PATH | IN("a", "b", ...)``, ``and``, ``or`` and
parentheses. Anything else gives no condition: the rule is then evaluated for every record. A program
outside the parser's subset (``def`` could redefine ``select``) gives none either. It never guesses.
"""

from __future__ import annotations

from tattletail.jq.nodes import Node, Unsupported
from tattletail.jq.parse import parse

Path = tuple[str, ...]

Condition = tuple[tuple[Path, frozenset[str]], ...]
"""Alternatives: the rule can match only if, for at least one (path, values), the record's value at
path is a string in values."""


def _path(node: Node) -> Path | None:
    """``.a.b`` (or ``.a?.b?``) as ``("a", "b")``; ``None`` for anything else (``.a[0]``, a call...).
    ``.a?.b?`` outputs a string only where ``.a.b`` is that string, so the condition is as necessary."""
    if node == ("identity",):
        return ()
    if node[0] == "optional" and node[1][0] == "field":
        return _path(node[1])
    if node[0] == "field":
        base = _path(node[1])
        return None if base is None else (*base, node[2])
    return None


def _string(node: Node) -> str | None:
    return node[1] if node[0] == "literal" and isinstance(node[1], str) else None  # not true/1: Python's True == 1


def _alternatives(node: Node) -> list[str] | None:
    """The string literals of ``"a", "b", ...``."""
    if node[0] == "comma":
        left, right = _alternatives(node[1]), _alternatives(node[2])
        return None if left is None or right is None else left + right
    value = _string(node)
    return None if value is None else [value]


def _condition(node: Node) -> Condition | None:
    kind = node[0]
    if kind == "or":
        left, right = _condition(node[1]), _condition(node[2])
        return left + right if left is not None and right is not None else None
    if kind == "and":  # either side's condition is necessary; keep the narrower
        found = [c for c in (_condition(node[1]), _condition(node[2])) if c is not None]
        return min(found, key=lambda c: sum(len(v) for _, v in c)) if found else None
    if kind == "binop" and node[1] == "==":
        for left, right in ((node[2], node[3]), (node[3], node[2])):
            path, value = _path(left), _string(right)
            if path and value is not None:
                return ((path, frozenset([value])),)
        return None
    if kind == "pipe" and node[2][0] == "call" and node[2][1] == "IN" and len(node[2][2]) == 1:
        path, values = _path(node[1]), _alternatives(node[2][2][0])
        if path and values:
            return ((path, frozenset(values)),)
    return None


def _stages(node: Node) -> list[Node]:
    return [node[1], *_stages(node[2])] if node[0] == "pipe" and not _is_in(node) else [node]


def _is_in(node: Node) -> bool:
    return bool(node[0] == "pipe" and node[2][0] == "call" and node[2][1] == "IN")


def necessary_condition(program: str) -> Condition | None:
    """A condition every record the program can match must meet, or ``None`` when none is known."""
    try:
        tree = parse(program)
    except (Unsupported, RecursionError):
        return None
    stages = _stages(tree)
    for n, stage in enumerate(stages):
        if stage[0] == "call" and stage[1] == "select" and len(stage[2]) == 1:
            condition = _condition(stage[2][0])
            if condition is not None:
                return condition
            continue  # select passes its input through unchanged: the next stage sees the record
        if n == 0 and len(stages) == 1:
            return _condition(stage)  # a boolean program: true only when its condition holds
        return None
    return None
