"""The grammar of the part of jq that real rules use: tokens -> a small AST (see ``nodes``).

It is a real grammar (recursive descent over jq's own precedence levels: ``|`` < ``,`` < ``//`` <
``or`` < ``and`` < comparisons < ``+ -`` < ``* / %`` < postfix), not pattern matching over text.
Anything outside the subset raises ``Unsupported`` with the construct's name, so the caller falls back
to libjq: the subset is chosen to be compiled exactly, never guessed. Number literals are accepted only
where libjq prints them as the compiled path prints the Python number (see ``values``).
"""

from __future__ import annotations

from typing import Any

from tattletail.jq.lexer import KEYWORDS, Token, decode, paren_end, tokenize
from tattletail.jq.nodes import Node, Unsupported
from tattletail.jq.recordtext import exact_number
from tattletail.jq.values import literal_text, number_text


def _interpolation(raw: str) -> Node:
    """``"a \\(E) b"`` as ``("format", ["a ", E, " b"])``."""
    body, text, pos = raw[1:-1], "", 0
    parts: list[Any] = []
    while pos < len(body):
        if body.startswith("\\(", pos):
            if text:
                parts.append(decode('"' + text + '"'))
                text = ""
            end = paren_end(body, pos + 1)
            parts.append(parse(body[pos + 2:end - 1]))
            pos = end
        elif body[pos] == "\\":
            text += body[pos:pos + 2]
            pos += 2
        else:
            text += body[pos]
            pos += 1
    if text:
        parts.append(decode('"' + text + '"'))
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
