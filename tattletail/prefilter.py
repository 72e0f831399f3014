"""Necessary conditions of jq rules, so records no rule can match skip jq entirely.

Calling libjq costs tens of microseconds whatever the program, and most CloudTrail records match
no rule. For a rule such as ``select(.eventName == "X") | ...`` the record can only match when
``.eventName`` is the string ``"X"``; such a condition is *necessary*, so skipping the rule when it
does not hold never changes a match (a test shows identical matches with and without).

The analysis is deliberately narrow. It tokenizes the program (strings, interpolation and comments
handled like jq's lexer) and only recognises, at the start of the pipeline, ``select(C)`` stages or a
program that is itself a boolean ``C``, where ``C`` is built from ``PATH == "literal"``,
``"literal" == PATH``, ``PATH | IN("a", "b", ...)``, ``and``, ``or`` and parentheses. Anything else
gives no condition: the rule is then evaluated for every record. It never guesses.
"""

from __future__ import annotations

from typing import Any

from tattletail.jqparse import Token, Unsupported, tokenize

Path = tuple[str, ...]

# Keywords whose constructs contain unparenthesised sub-expressions; seeing one at the top level of
# a condition means the simple split below would misread it, so the analysis gives up.
_OPAQUE = {"if", "then", "elif", "else", "end", "reduce", "foreach", "try", "catch", "label",
           "def", "as", "import", "include", "__loc__"}


def _split(tokens: list[Token], kind: str, text: str) -> list[list[Token]]:
    """Split at top-level (not nested in brackets) tokens equal to (kind, text)."""
    parts: list[list[Token]] = [[]]
    depth = 0
    for tok in tokens:
        if tok.kind == "op" and tok.text in "([{":
            depth += 1
        elif tok.kind == "op" and tok.text in ")]}":
            depth -= 1
        if depth == 0 and tok.kind == kind and tok.text == text:
            parts.append([])
        else:
            parts[-1].append(tok)
    return parts


def _wrapped(tokens: list[Token]) -> list[Token] | None:
    """The inside of ``( ... )`` when one pair of parentheses spans all of ``tokens``."""
    if len(tokens) < 2 or tokens[0] != Token("op", "(") or tokens[-1] != Token("op", ")"):
        return None
    depth = 0
    for i, tok in enumerate(tokens):
        if tok.kind == "op" and tok.text in "([{":
            depth += 1
        elif tok.kind == "op" and tok.text in ")]}":
            depth -= 1
            if depth == 0 and i != len(tokens) - 1:
                return None
    return tokens[1:-1]


def _path(tokens: list[Token]) -> Path | None:
    if tokens and all(t.kind == "field" for t in tokens):
        return tuple(t.text for t in tokens)
    return None


Condition = tuple[tuple[Path, frozenset[str]], ...]
"""Alternatives: the rule can match only if, for at least one (path, values), the record's value at
path is a string in values."""


def _condition(tokens: list[Token]) -> Condition | None:
    inner = _wrapped(tokens)
    if inner is not None:
        return _condition(inner)
    if any(t.kind == "ident" and t.text in _OPAQUE for t in tokens):
        return None
    for separator in (("op", ","), ("op", "//"), ("op", "?//")):
        if len(_split(tokens, *separator)) > 1:
            return None
    stages = _split(tokens, "op", "|")
    if len(stages) == 2:
        return _in_atom(stages[0], stages[1])
    if len(stages) > 2:
        return None
    alternatives = _split(tokens, "ident", "or")
    if len(alternatives) > 1:
        union: list[tuple[Path, frozenset[str]]] = []
        for part in alternatives:
            cond = _condition(part)
            if cond is None:
                return None
            union.extend(cond)
        return tuple(union)
    conjuncts = _split(tokens, "ident", "and")
    if len(conjuncts) > 1:
        found = [c for c in (_condition(part) for part in conjuncts) if c is not None]
        return min(found, key=lambda c: sum(len(v) for _, v in c)) if found else None
    return _eq_atom(tokens)


def _eq_atom(tokens: list[Token]) -> Condition | None:
    sides = _split(tokens, "op", "==")
    if len(sides) != 2:
        return None
    for left, right in (sides, sides[::-1]):
        path = _path(left)
        if path is not None and len(right) == 1 and right[0].kind == "str":
            return ((path, frozenset([right[0].text])),)
    return None


def _in_atom(subject: list[Token], call: list[Token]) -> Condition | None:
    path = _path(subject)
    if path is None or len(call) < 3 or call[0] != Token("ident", "IN"):
        return None
    args = _wrapped(call[1:])
    if args is None:
        return None
    values = _split(args, "op", ",")
    if all(len(v) == 1 and v[0].kind == "str" for v in values):
        return ((path, frozenset(v[0].text for v in values)),)
    return None


def necessary_condition(program: str) -> Condition | None:
    """A condition every record the program can match must meet, or ``None`` when none is known."""
    try:
        tokens = tokenize(program)
    except Unsupported:
        return None
    if any(t.kind == "ident" and t.text == "def" for t in tokens):
        return None  # select/IN/and could be redefined
    stages = _split(tokens, "op", "|")
    for stage in stages:
        if stage[:1] == [Token("ident", "select")]:
            inner = _wrapped(stage[1:])
            if inner is None:
                return None
            cond = _condition(inner)
            if cond is not None:
                return cond
            continue  # select passes its input through unchanged: the next stage sees the record
        if stage is stages[0] and len(stages) == 1:
            return _condition(stage)  # a boolean program: true only when its condition holds
        return None
    return None


def value_at(record: Any, path: Path) -> Any:
    """The value at ``path`` as jq reads ``.a.b`` (absent -> None); None where jq would raise."""
    for key in path:
        if not isinstance(record, dict):
            return None
        record = record.get(key)
    return record
