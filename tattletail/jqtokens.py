"""jq's tokens, as the static checks (``tattletail.guard``, ``tattletail.cost``) read them.

The checks must read all of jq, including what the compiled subset's parser refuses (``def``, ``as``,
``reduce``...), so they share this tokenizer rather than ``tattletail.jq.parse``. A string's
interpolations ``\\(...)`` become ``( tokens )`` right after the string's token.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

_TOKEN = re.compile(r"""
      (?P<ws>\s+|\#[^\n]*)
    | (?P<field>\.[A-Za-z_][A-Za-z0-9_]*)
    | (?P<var>\$(?:__loc__|[A-Za-z_][A-Za-z0-9_]*(?:::[A-Za-z_][A-Za-z0-9_]*)*))
    | (?P<format>@[A-Za-z0-9_]+)
    | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:::[A-Za-z_][A-Za-z0-9_]*)*)
    | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
    | (?P<op>\?//|//=|//|\|=|\+=|-=|\*=|/=|%=|==|!=|<=|>=|\.\.|[.|,()\[\]{}:;?<>=+\-*/%])
    """, re.VERBOSE)


@dataclass(frozen=True)
class Tok:
    kind: str   # field var format ident num op str
    text: str


class Unreadable(Exception):
    """A program the checks cannot read (they then prove nothing about it)."""


def tokenize(program: str) -> list[Tok]:
    """jq's tokens; a string's interpolations ``\\(...)`` become ``( tokens )`` after the string."""
    out: list[Tok] = []
    pos = 0
    while pos < len(program):
        if program[pos] == '"':
            pos = _string(program, pos, out)
            continue
        m = _TOKEN.match(program, pos)
        if not m:
            raise Unreadable(f"token {program[pos:pos + 10]!r}")
        if m.lastgroup != "ws":
            out.append(Tok(m.lastgroup or "", m.group()))
        pos = m.end()
    return out


def _string(program: str, start: int, out: list[Tok]) -> int:
    pos, text, inner = start + 1, [], []
    while pos < len(program):
        ch = program[pos]
        if ch == "\\" and program.startswith("\\(", pos):
            depth, end = 0, pos + 1
            while end < len(program):  # the interpolation's closing parenthesis, strings inside skipped
                c = program[end]
                if c == '"':
                    end = _string(program, end, []) - 1
                elif c == "(":
                    depth += 1
                elif c == ")":
                    depth -= 1
                    if depth == 0:
                        break
                end += 1
            inner.append(program[pos + 2:end])
            pos = end + 1
        elif ch == "\\":
            text.append(program[pos:pos + 2])
            pos += 2
        elif ch == '"':
            try:
                value = json.loads('"' + "".join(text) + '"') if not inner else "".join(text)
            except ValueError:
                value = "".join(text)
            out.append(Tok("str", value))
            for code in inner:
                out.extend([Tok("op", "("), *tokenize(code), Tok("op", ")")])
            return pos + 1
        else:
            text.append(ch)
            pos += 1
    raise Unreadable("unterminated string")


def close(tokens: list[Tok], i: int) -> int:
    """Index of the bracket closing the one at ``i``."""
    depth = 0
    for j in range(i, len(tokens)):
        if tokens[j].kind == "op" and tokens[j].text in "([{":
            depth += 1
        elif tokens[j].kind == "op" and tokens[j].text in ")]}":
            depth -= 1
            if depth == 0:
                return j
    raise Unreadable("unbalanced brackets")


def call_args(tokens: list[Tok], i: int) -> list[list[Tok]]:
    """The ``;``-separated arguments of the call whose name is at ``i`` (none without parentheses)."""
    if i + 1 >= len(tokens) or tokens[i + 1].text != "(" or tokens[i + 1].kind != "op":
        return []
    end = close(tokens, i + 1)
    args: list[list[Tok]] = [[]]
    depth = 0
    for tok in tokens[i + 2:end]:
        if tok.kind == "op" and tok.text in "([{":
            depth += 1
        elif tok.kind == "op" and tok.text in ")]}":
            depth -= 1
        if depth == 0 and tok.kind == "op" and tok.text == ";":
            args.append([])
        else:
            args[-1].append(tok)
    return args
