"""A parser for the part of jq that real rules use, producing a small AST.

It is a real grammar (recursive descent over jq's own precedence levels: ``|`` < ``,`` < ``//`` <
``or`` < ``and`` < comparisons < ``+ -`` < ``* / %`` < postfix), not pattern matching over text.
Anything outside the subset raises ``Unsupported`` with the construct's name, so the caller falls back
to libjq: the subset is chosen to be compiled exactly, never guessed.

AST nodes are tuples whose first item names them: ``("identity",)``, ``("field", term, name)``,
``("index", term, expr)``, ``("iterate", term)``, ``("optional", step)`` (``.a[]?``: only the last step
may fail), ``("try", body, handler)``, ``("literal", value)``,
``("format", parts)`` (string interpolation), ``("array", expr)``, ``("object", entries)``,
``("pipe", a, b)``, ``("comma", a, b)``, ``("alt", a, b)``, ``("and", a, b)``, ``("or", a, b)``,
``("binop", op, a, b)``, ``("if", branches, otherwise)``, ``("call", name, args)``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from tattletail.jq.values import exact_number, literal_text, number_text

Node = tuple[Any, ...]

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


class Unsupported(Exception):
    """The program uses something outside the compiled subset (the message names it)."""


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
                tokens.append(Token("str", _decode(raw)))
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


def _decode(raw: str) -> str:
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
                pos = _paren_end(program, pos + 1)
                continue
            pos += 2
            continue
        if ch == '"':
            return pos + 1, interpolated
        pos += 1
    raise Unsupported("unterminated string")


def _paren_end(program: str, open_pos: int) -> int:
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


def _interpolation(raw: str) -> Node:
    """``"a \\(E) b"`` as ``("format", ["a ", E, " b"])``."""
    body, text, pos = raw[1:-1], "", 0
    parts: list[Any] = []
    while pos < len(body):
        if body.startswith("\\(", pos):
            if text:
                parts.append(_decode('"' + text + '"'))
                text = ""
            end = _paren_end(body, pos + 1)
            parts.append(parse(body[pos + 2:end - 1]))
            pos = end
        elif body[pos] == "\\":
            text += body[pos:pos + 2]
            pos += 2
        else:
            text += body[pos]
            pos += 1
    if text:
        parts.append(_decode('"' + text + '"'))
    return ("format", parts)


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self, offset: int = 0) -> Token | None:
        i = self.pos + offset
        return self.tokens[i] if i < len(self.tokens) else None

    def at(self, kind: str, text: str | None = None) -> bool:
        tok = self.peek()
        return tok is not None and tok.kind == kind and (text is None or tok.text == text)

    def take(self) -> Token:
        tok = self.peek()
        if tok is None:
            raise Unsupported("unexpected end of program")
        self.pos += 1
        return tok

    def expect(self, kind: str, text: str) -> None:
        tok = self.take()
        if tok.kind != kind or tok.text != text:
            raise Unsupported(f"expected {text!r}, found {tok.text!r}")

    # precedence levels, lowest first
    def pipe(self) -> Node:
        if self.at("ident", "def"):
            raise Unsupported("def")
        left = self.comma()
        if self.at("ident", "as"):
            raise Unsupported("as (variable binding)")
        if self.at("op", "|"):
            self.take()
            return ("pipe", left, self.pipe())
        return left

    def comma(self) -> Node:
        left = self.alternative()
        while self.at("op", ","):
            self.take()
            left = ("comma", left, self.alternative())
        return left

    def alternative(self) -> Node:
        left = self.disjunction()
        if self.at("op", "//"):
            self.take()
            return ("alt", left, self.alternative())
        for op in ("?//", "=", "|=", "+=", "-=", "*=", "/=", "%=", "//="):
            if self.at("op", op):
                raise Unsupported(f"operator {op}")
        return left

    def disjunction(self) -> Node:
        left = self.conjunction()
        while self.at("ident", "or"):
            self.take()
            left = ("or", left, self.conjunction())
        return left

    def conjunction(self) -> Node:
        left = self.comparison()
        while self.at("ident", "and"):
            self.take()
            left = ("and", left, self.comparison())
        return left

    def comparison(self) -> Node:
        left = self.additive()
        for op in ("==", "!=", "<", "<=", ">", ">="):
            if self.at("op", op):
                self.take()
                right = self.additive()
                for again in ("==", "!=", "<", "<=", ">", ">="):
                    if self.at("op", again):
                        raise Unsupported("chained comparison")
                return ("binop", op, left, right)
        return left

    def additive(self) -> Node:
        left = self.multiplicative()
        while self.at("op", "+") or self.at("op", "-"):
            op = self.take().text
            left = ("binop", op, left, self.multiplicative())
        return left

    def multiplicative(self) -> Node:
        left = self.postfix()
        while self.at("op", "*") or self.at("op", "/") or self.at("op", "%"):
            op = self.take().text
            left = ("binop", op, left, self.postfix())
        return left

    def postfix(self) -> Node:
        if self.at("ident", "try"):
            self.take()
            body = self.postfix()
            handler = None
            if self.at("ident", "catch"):
                self.take()
                handler = self.postfix()
            return ("try", body, handler)
        if self.at("op", "-"):  # jq: '-' Term, a negation of the whole postfix term
            self.take()
            if self.at("num") and not self._postfix_follows(1):
                return ("literal", _number("-" + self.take().text))
            return ("neg", self.postfix())
        parenthesised = self.at("op", "(")
        node = self.term()
        stepped = not parenthesised and node[0] in ("field", "index", "iterate")
        while True:
            if self.at("field"):
                stepped = True
                node = ("field", node, self.take().text)
            elif self.at("op", ".") and self.peek(1) is not None and self.peek(1).kind in ("str", "op"):  # type: ignore[union-attr]
                nxt = self.peek(1)
                assert nxt is not None
                if nxt.kind == "str":
                    self.take()
                    node = ("field", node, self.take().text)
                    stepped = True
                elif nxt.text == "[":
                    self.take()
                    node = self.bracket(node)
                    stepped = True
                else:
                    break
            elif self.at("op", "["):
                node = self.bracket(node)
                stepped = True
            elif self.at("op", "?"):
                self.take()
                # jq: right after .foo, [i] or [] the ? makes only that step optional (errors before it
                # still propagate); after any other term, ``(.a.b)`` included, it is a try of the term
                node = ("optional", node) if stepped else ("try", node, None)
                stepped = False
            else:
                break
        return node

    def _postfix_follows(self, offset: int) -> bool:
        """Whether the token at ``offset`` continues a postfix term (so ``-1[0]`` negates ``1[0]``)."""
        tok = self.peek(offset)
        return tok is not None and (tok.kind == "field" or (tok.kind == "op" and tok.text in ("[", "?", ".")))

    def bracket(self, node: Node) -> Node:
        self.expect("op", "[")
        if self.at("op", "]"):
            self.take()
            return ("iterate", node)
        if self.at("op", ":"):
            raise Unsupported("slice")
        index = self.pipe()
        if self.at("op", ":"):
            raise Unsupported("slice")
        self.expect("op", "]")
        return ("index", node, index)

    def term(self) -> Node:
        tok = self.take()
        if tok.kind == "field":
            return ("field", ("identity",), tok.text)
        if tok.kind == "op":
            if tok.text == ".":
                nxt = self.peek()
                if nxt is not None and nxt.kind == "str":
                    self.take()
                    return ("field", ("identity",), nxt.text)
                if nxt is not None and nxt.kind == "op" and nxt.text == "[":
                    return self.bracket(("identity",))
                return ("identity",)
            if tok.text == "(":
                inner = self.pipe()
                self.expect("op", ")")
                return inner
            if tok.text == "[":
                if self.at("op", "]"):
                    self.take()
                    return ("literal", [])
                inner = self.pipe()
                self.expect("op", "]")
                return ("array", inner)
            if tok.text == "{":
                return self.object()
            raise Unsupported(f"operator {tok.text!r}")
        if tok.kind == "num":
            return ("literal", _number(tok.text))
        if tok.kind == "str":
            return ("literal", tok.text)
        if tok.kind == "istr":
            return _interpolation(tok.text)
        if tok.kind == "var":
            raise Unsupported(f"variable {tok.text}")
        if tok.kind == "ident":
            if tok.text in ("true", "false", "null"):
                return ("literal", {"true": True, "false": False, "null": None}[tok.text])
            if tok.text == "if":
                return self.conditional()
            if tok.text in KEYWORDS:
                raise Unsupported(tok.text)
            args: list[Node] = []
            if self.at("op", "("):
                self.take()
                args.append(self.pipe())
                while self.at("op", ";"):
                    self.take()
                    args.append(self.pipe())
                self.expect("op", ")")
            return ("call", tok.text, args)
        raise Unsupported(f"token {tok.text!r}")

    def conditional(self) -> Node:
        branches = []
        cond = self.pipe()
        self.expect("ident", "then")
        branches.append((cond, self.pipe()))
        otherwise = None
        while True:
            tok = self.take()
            if tok.kind == "ident" and tok.text == "elif":
                cond = self.pipe()
                self.expect("ident", "then")
                branches.append((cond, self.pipe()))
            elif tok.kind == "ident" and tok.text == "else":
                otherwise = self.pipe()
                self.expect("ident", "end")
                break
            elif tok.kind == "ident" and tok.text == "end":
                break
            else:
                raise Unsupported(f"expected elif, else or end, found {tok.text!r}")
        return ("if", branches, otherwise)

    def object(self) -> Node:
        entries: list[tuple[Node, Node]] = []
        while not self.at("op", "}"):
            tok = self.take()
            if tok.kind in ("ident",) or (tok.kind == "str"):
                key: Node = ("literal", tok.text)
            elif tok.kind == "istr":
                key = _interpolation(tok.text)
            elif tok.kind == "op" and tok.text == "(":
                key = self.pipe()
                self.expect("op", ")")
                if _constant(key) and not (key[0] == "literal" and isinstance(key[1], str)):
                    raise Unsupported("constant object key that is not a string")  # a compile error in jq
            else:
                raise Unsupported(f"object key {tok.text!r}")
            if self.at("op", ":"):
                self.take()
                value = self.object_value()
            elif key[0] == "literal":
                value = ("field", ("identity",), key[1])
            else:
                raise Unsupported("object key without value")
            entries.append((key, value))
            if self.at("op", ","):
                self.take()
            elif not self.at("op", "}"):
                raise Unsupported(f"expected , or }} in object, found {self.peek()}")
        self.take()
        return ("object", entries)

    def object_value(self) -> Node:
        """jq's DictExpr: expressions (no ``,``) joined by ``|``."""
        left = self.alternative()
        if self.at("op", "|"):
            self.take()
            return ("pipe", left, self.object_value())
        return left


def _constant(node: Node) -> bool:
    """Whether jq sees ``node`` as a constant (literals, and what it folds from them): such an object key
    must be a string at compile time."""
    kind = node[0]
    if kind == "literal":
        return True
    if kind == "binop":
        return _constant(node[2]) and _constant(node[3])
    if kind == "array":
        return _constant(node[1]) if node[1][0] != "comma" else _constant(node[1][1]) and _constant(node[1][2])
    if kind == "object":
        return all(_constant(k) and _constant(v) for k, v in node[1])
    return False


def _number(text: str) -> int | float:
    """A number literal, when libjq prints it as the compiled path prints the Python number (see
    ``values``): ints up to 2^53, and floats whose text prints as their ``repr`` (``1.0``, not ``1.00``)."""
    literal = literal_text(text)
    if "." not in text and "e" not in text.lower():
        value: int | float = int(text)
        if exact_number(value) and literal == str(value):
            return value
    else:
        value = float(text)
        if exact_number(value) and literal == number_text(value):
            return value
    raise Unsupported(f"number literal {text} (libjq keeps its decimal text)")


def parse(program: str) -> Node:
    """The AST of a jq program in the subset; ``Unsupported`` otherwise."""
    parser = _Parser(tokenize(program))
    if not parser.tokens:
        raise Unsupported("empty program")
    node = parser.pipe()
    if parser.peek() is not None:
        raise Unsupported(f"unexpected {parser.peek().text!r}")  # type: ignore[union-attr]
    return node
