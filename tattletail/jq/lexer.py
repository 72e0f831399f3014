"""jq's lexer for the compiled subset: program text -> tokens, with jq 1.8's comments and string literals.

Separate from the grammar because the config loader also reads tokens alone (to find the regular
expressions a rule uses) without parsing, and because the string and comment rules are jq's lexer's
own quirks (a backslash continues a ``#`` comment; ``\\(...)`` nests whole programs in a string).
Anything the lexer does not know raises ``Unsupported``, so the rule falls back to libjq.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from tattletail.jq.nodes import Unsupported

_TOKEN = re.compile(
    r"""
      (?P<ws>\s+)
    | (?P<field>\.[A-Za-z_][A-Za-z0-9_]*)
    | (?P<var>\$[A-Za-z_][A-Za-z0-9_:]*)
    | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:::[A-Za-z_][A-Za-z0-9_]*)*)
    | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
    | (?P<op>\?//=?|//=?|\|=|\+=|-=|\*=|/=|%=|==|!=|<=|>=|\.\.|[.|,()\[\]{}:;?<>=+\-*/%])
    """,
    re.VERBOSE,
)
KEYWORDS = {"if", "then", "elif", "else", "end", "as", "def", "reduce", "foreach", "try", "catch", "label",
            "import", "include", "and", "or", "__loc__"}


@dataclass(frozen=True)
class Token:
    kind: str  # field, var, ident, num, op, str (decoded literal), istr (interpolated string, raw)
    text: str


def tokenize(program: str) -> list[Token]:
    """Split a jq program into tokens; raise ``Unsupported`` on anything the lexer does not know."""
    tokens: list[Token] = []
    pos = 0
    while pos < len(program):
        if program[pos] == "#":
            pos = _comment_end(program, pos)
            continue
        if program[pos] == '"':
            end, interpolated = _string_end(program, pos)
            raw = program[pos:end]
            if interpolated:
                tokens.append(Token("istr", raw))
            else:
                tokens.append(Token("str", decode(raw)))
            pos = end
            continue
        m = _TOKEN.match(program, pos)
        if not m:
            raise Unsupported(f"token {program[pos:pos + 10]!r}")
        kind = m.lastgroup or ""
        if kind != "ws":
            text = m.group()
            tokens.append(Token(kind, text[1:] if kind == "field" else text))
        pos = m.end()
    return tokens


def _comment_end(program: str, pos: int) -> int:
    """Index after the ``#`` comment at ``pos``. As jq 1.8's lexer: a backslash before a newline (or
    before another backslash) is part of the comment, so ``# a \\`` continues on the next line."""
    pos += 1
    while pos < len(program):
        if program[pos] == "\\":
            nxt = program[pos + 1:pos + 2]
            if nxt in ("\\", "\n"):
                pos += 2
                continue
            if program.startswith("\r\n", pos + 1):
                pos += 3
                continue
        elif program[pos] == "\n" or program.startswith("\r\n", pos):
            return pos
        pos += 1
    return pos


def decode(raw: str) -> str:
    """A jq string literal's value (jq's escapes are JSON's; raw control characters are allowed; a lone
    surrogate escape is a compile error in jq)."""
    try:
        value = str(json.loads(raw, strict=False))
    except ValueError:
        raise Unsupported(f"string literal {raw[:20]!r}") from None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise Unsupported("lone surrogate in a string literal") from None
    return value


def _string_end(program: str, start: int) -> tuple[int, bool]:
    """Index after the string literal opening at ``start``, and whether it interpolates ``\\(...)``."""
    pos, interpolated = start + 1, False
    while pos < len(program):
        ch = program[pos]
        if ch == "\\":
            if program.startswith("\\(", pos):
                interpolated = True
                pos = paren_end(program, pos + 1)
                continue
            pos += 2
            continue
        if ch == '"':
            return pos + 1, interpolated
        pos += 1
    raise Unsupported("unterminated string")


def paren_end(program: str, open_pos: int) -> int:
    """Index after the ``)`` closing the ``(`` at ``open_pos``, skipping nested strings."""
    depth, pos = 0, open_pos
    while pos < len(program):
        ch = program[pos]
        if ch == '"':
            pos, _ = _string_end(program, pos)
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return pos + 1
        pos += 1
    raise Unsupported("unbalanced interpolation")
