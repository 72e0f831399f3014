"""The parser behind ``tattletail.cost``: reads a jq program's tokens and computes its cost on the way.

Recursive descent over jq's grammar (pipes, ``as`` bindings, ``def``, ``reduce``/``foreach``, ``if``,
``try``, ``label``, objects, string interpolation, postfix paths and slices), with jq's precedences from
``|`` (lowest) to ``*``. It reads every program of jq's own test suite but a handful; what it cannot
read raises ``Unreadable``, and the guard then proves nothing about the program.
"""

from __future__ import annotations

from tattletail.cost import (
    ASSIGNMENTS,
    FIELD,
    IDENTITY,
    ITERATE,
    LINEAR,
    LIT,
    NOTHING,
    ONE,
    OPAQUE,
    PRECEDENCE,
    RIGHT,
    SIZE_VAR,
    VARIABLE,
    ZERO,
    Cost,
    alternative,
    assignment,
    binary,
    call,
    collect,
    degree,
    pipe,
    plus,
    poly,
    product,
    times,
)
from tattletail.jqtokens import Tok, Unreadable, call_args, close


class _Parser:
    """Reads jq's grammar (enough of it for every rule seen) and computes the cost on the way."""

    def __init__(self, tokens: list[Tok], defined: frozenset[str], small: frozenset[str] = frozenset()) -> None:
        self.tokens, self.i, self.defined = tokens, 0, defined
        self.small = small  # variables bound to values of constant size ([range(10)] as $r)

    def whole(self) -> Cost:
        cost = self.pipe()
        if self.i != len(self.tokens):
            raise Unreadable(f"unexpected {self.tokens[self.i].text!r}")
        return cost

    def _sub(self, tokens: list[Tok]) -> Cost:
        if not tokens:
            raise Unreadable("empty expression")
        return _Parser(tokens, self.defined, self.small).whole()

    def peek(self, ahead: int = 0) -> Tok | None:
        k = self.i + ahead
        return self.tokens[k] if k < len(self.tokens) else None

    def at(self, *texts: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.kind in ("op", "ident") and tok.text in texts

    def take(self) -> Tok:
        tok = self.peek()
        if tok is None:
            raise Unreadable("unexpected end")
        self.i += 1
        return tok

    def expect(self, text: str) -> None:
        if not self.at(text):
            raise Unreadable(f"expected {text!r}")
        self.i += 1

    def skip_until(self, stop: str) -> None:
        """Past a destructuring pattern, to the ``stop`` token at depth 0 (not consumed)."""
        depth = 0
        while (tok := self.peek()) is not None:
            if tok.kind == "op" and tok.text in "([{" and depth == 0 and tok.text == stop:
                return
            if tok.kind == "op" and tok.text in "([{":
                depth += 1
            elif tok.kind == "op" and tok.text in ")]}":
                depth -= 1
            elif depth == 0 and tok.kind == "op" and tok.text == stop:
                return
            self.i += 1
        raise Unreadable(f"pattern without {stop!r}")

    # ---------------------------------------------------------------- precedence levels

    def pipe(self) -> Cost:
        if self.at("def"):
            self._skip_def()
            return self.pipe()
        if self.at("label"):
            self.take()
            self.take()
            self.expect("|")
            return self.pipe()
        left = self.binary(1)
        if self.at("|"):
            self.take()
            return pipe(left, self.pipe())
        return left

    def binary(self, least: int) -> Cost:
        left = self.postfix(allow_as=True)
        while (tok := self.peek()) is not None and tok.kind in ("op", "ident") and tok.text in PRECEDENCE \
                and (tok.kind == "op" or tok.text in ("and", "or")) and PRECEDENCE[tok.text] >= least:
            op = self.take().text
            right = self.binary(PRECEDENCE[op] + (0 if op in RIGHT else 1))
            if op in (",", "//"):
                left = alternative(left, right)
            elif op in ASSIGNMENTS:
                left = assignment(op, left, right)
            else:
                left = binary(op, left, right)
        return left

    def postfix(self, allow_as: bool) -> Cost:
        if self.at("-"):  # try -. catch ., reduce -.[] as ...
            self.take()
            return self.postfix(allow_as)
        cost = self.primary()
        while (tok := self.peek()) is not None:
            nxt = self.peek(1)
            if tok.kind == "field":
                self.take()
                cost = pipe(cost, FIELD)
            elif tok.kind == "op" and tok.text == "." and nxt is not None and nxt.kind == "str":
                self.i += 2
                cost = pipe(cost, FIELD)
            elif tok.kind == "op" and tok.text == "." and nxt is not None and nxt.text == "[":
                self.take()
            elif tok.kind == "op" and tok.text == "[":
                cost = self._index(cost)
            elif tok.kind == "op" and tok.text == "?":
                self.take()
            elif allow_as and tok.kind == "ident" and tok.text == "as":
                self.take()
                start = self.i
                self.skip_until("|")
                names = {t.text for t in self.tokens[start:self.i] if t.kind == "var"}
                self.take()
                outer = self.small
                self.small = outer | names if cost.size == ONE else outer - names
                body = self.pipe()
                self.small = outer
                return Cost(plus(cost.work, times(cost.outs, body.work)), times(cost.outs, body.outs),
                            times(cost.outs, body.size))
            else:
                break
        return cost

    def _index(self, base: Cost) -> Cost:
        end = close(self.tokens, self.i)
        inner, self.i = self.tokens[self.i + 1:end], end + 1
        if not inner:
            return pipe(base, ITERATE)
        depth, colon = 0, -1
        for k, tok in enumerate(inner):
            if tok.kind == "op" and tok.text in "([{":
                depth += 1
            elif tok.kind == "op" and tok.text in ")]}":
                depth -= 1
            elif depth == 0 and tok.kind == "op" and tok.text == ":":
                colon = k
        parts = [inner] if colon < 0 else [p for p in (inner[:colon], inner[colon + 1:]) if p]
        index = LIT
        for part in parts:
            index = product(index, self._sub(part))
        both = product(base, index)
        work = plus(both.work, both.outs, times(index.outs, base.size) if colon >= 0 else ZERO)
        return Cost(work, both.outs, times(index.outs, base.size))

    # ---------------------------------------------------------------- terms

    def primary(self) -> Cost:
        tok = self.take()
        if tok.kind == "num":
            return LIT
        if tok.kind == "str":
            return self._interpolated(LIT, format_=False)
        if tok.kind == "format":
            nxt = self.peek()
            if nxt is not None and nxt.kind == "str":
                self.take()
                return self._interpolated(LIT, format_=True)
            return LINEAR
        if tok.kind == "var":
            return LIT if tok.text in ("$__loc__", "$ENV") or tok.text in self.small else VARIABLE
        if tok.kind == "field":
            return FIELD
        if tok.kind == "op":
            return self._op_term(tok.text)
        return self._word(tok.text)

    def _op_term(self, text: str) -> Cost:
        if text == ".":
            nxt = self.peek()
            if nxt is not None and nxt.kind == "str":
                self.take()
                return FIELD
            return IDENTITY
        if text == "..":
            return ITERATE
        if text == "(":
            inner = self.pipe()
            self.expect(")")
            return inner
        if text == "[":
            if self.at("]"):
                self.take()
                return LIT
            inner = self.pipe()
            self.expect("]")
            return collect(inner)
        if text == "{":
            return self._object()
        raise Unreadable(f"unexpected {text!r}")

    def _interpolated(self, base: Cost, format_: bool) -> Cost:
        """A string's interpolations (the tokenizer put each as ``( ... )`` after it): a cartesian
        product, each output turned into text (``tostring`` or the format)."""
        cost = base
        while self.at("("):
            self.take()
            inner = self.pipe()
            self.expect(")")
            cost = product(cost, pipe(inner, LINEAR))
        return cost if cost is base else Cost(plus(cost.work, cost.size), cost.outs, cost.size)

    def _object(self) -> Cost:
        start = self.i - 1
        end = close(self.tokens, start)
        entries: list[list[Tok]] = [[]]
        depth = 0
        for tok in self.tokens[start + 1:end]:
            if tok.kind == "op" and tok.text in "([{":
                depth += 1
            elif tok.kind == "op" and tok.text in ")]}":
                depth -= 1
            if depth == 0 and tok.kind == "op" and tok.text == ",":
                entries.append([])
            else:
                entries[-1].append(tok)
        self.i = end + 1
        cost = LIT
        for entry in entries:
            if not entry:
                continue
            colon = next((k for k, t in enumerate(entry) if t.kind == "op" and t.text == ":"
                          and _depth0(entry, k)), -1)
            key_tokens, value_tokens = (entry, []) if colon < 0 else (entry[:colon], entry[colon + 1:])
            key = LIT if len(key_tokens) == 1 and key_tokens[0].kind in ("ident", "str") else self._sub(key_tokens)
            # {a}, {$x}, {"a"}: the value is the field or the variable
            shorthand = VARIABLE if key_tokens[0].kind == "var" else FIELD
            value = shorthand if colon < 0 else self._sub(value_tokens)
            cost = product(cost, product(key, value))
        return Cost(plus(cost.work, cost.outs), cost.outs, cost.size)

    def _word(self, name: str) -> Cost:
        if name in ("true", "false", "null", "__loc__"):
            return LIT
        if name == "if":
            return self._if()
        if name == "try":
            body = self.postfix(allow_as=False)
            if self.at("catch"):
                self.take()
                return alternative(body, self.postfix(allow_as=False))
            return body
        if name in ("reduce", "foreach"):
            return self._fold(name)
        if name == "def":
            self.i -= 1
            self._skip_def()
            return self.pipe()
        if name == "label":
            self.take()
            self.expect("|")
            return self.pipe()
        if name == "break":
            self.take()
            return NOTHING
        if name in ("import", "include", "then", "elif", "else", "end", "as", "catch", "and", "or"):
            raise Unreadable(f"unexpected {name!r}")
        raw = call_args(self.tokens, self.i - 1)
        if raw:
            self.i = close(self.tokens, self.i) + 1
        if name in self.defined:
            return OPAQUE
        return call(name, [self._sub(arg) for arg in raw], raw)

    def _if(self) -> Cost:
        branches: list[tuple[Cost, Cost]] = []
        cond = self.pipe()
        self.expect("then")
        branches.append((cond, self.pipe()))
        while self.at("elif"):
            self.take()
            cond = self.pipe()
            self.expect("then")
            branches.append((cond, self.pipe()))
        otherwise = IDENTITY
        if self.at("else"):
            self.take()
            otherwise = self.pipe()
        self.expect("end")
        for cond, then in reversed(branches):
            either = alternative(then, otherwise)
            otherwise = Cost(plus(cond.work, times(cond.outs, either.work)), times(cond.outs, either.outs),
                             times(cond.outs, either.size))
        return otherwise

    def _fold(self, name: str) -> Cost:
        """``reduce``/``foreach SOURCE as $x (INIT; UPDATE; EXTRACT)``: UPDATE runs once per output of
        SOURCE on the accumulator, whose size is taken as the record's."""
        depth, k = 0, self.i  # the source runs to the 'as' at depth 0 (jq 1.8: any expression)
        while k < len(self.tokens) and not (depth == 0 and self.tokens[k].kind == "ident"
                                            and self.tokens[k].text == "as"):
            if self.tokens[k].kind == "op" and self.tokens[k].text in "([{":
                depth += 1
            elif self.tokens[k].kind == "op" and self.tokens[k].text in ")]}":
                depth -= 1
            k += 1
        source, self.i = self._sub(self.tokens[self.i:k]), k
        self.expect("as")
        self.skip_until("(")
        raw = call_args(self.tokens, self.i - 1)
        self.i = close(self.tokens, self.i) + 1
        parts = [self._sub(arg) for arg in raw]
        if len(parts) < 2:
            raise Unreadable(f"{name} without its arguments")
        init, steps = parts[0], parts[1:]
        per = plus(*(poly(*((0, d + v) for d, v in step.work)) for step in steps))  # input: the accumulator
        work = plus(source.work, init.work, times(source.outs, per), source.outs)
        outs = init.outs if name == "reduce" else times(init.outs, source.outs)
        return Cost(work, outs, times(outs, SIZE_VAR))

    def _skip_def(self) -> None:
        self.i = skip_def(self.tokens, self.i)


def _depth0(tokens: list[Tok], k: int) -> bool:
    depth = 0
    for tok in tokens[:k]:
        if tok.kind == "op" and tok.text in "([{":
            depth += 1
        elif tok.kind == "op" and tok.text in ")]}":
            depth -= 1
    return depth == 0


def skip_def(tokens: list[Tok], i: int) -> int:
    """Index after the ``;`` closing the ``def`` at ``i`` (nested defs skipped)."""
    j = i + 2
    if j < len(tokens) and tokens[j].text == "(":
        j = close(tokens, j) + 1
    if j >= len(tokens) or tokens[j].text != ":":
        raise Unreadable("def without ':'")
    depth, k = 0, j + 1
    while k < len(tokens):
        tok = tokens[k]
        if tok.kind == "ident" and tok.text == "def" and depth == 0:
            k = skip_def(tokens, k)
            continue
        if tok.kind == "op" and tok.text in "([{":
            depth += 1
        elif tok.kind == "op" and tok.text in ")]}":
            depth -= 1
        elif tok.kind == "op" and tok.text == ";" and depth == 0:
            return k + 1
        k += 1
    raise Unreadable("def not closed by ';'")


def work_degree(tokens: list[Tok]) -> int:
    """The degree of the program's work in the record's size (``UNKNOWN_DEGREE`` or more: unknown).
    Raises ``Unreadable`` for what the parser cannot read."""
    defined = set()
    for k, tok in enumerate(tokens):
        if tok.kind == "ident" and tok.text == "def" and k + 1 < len(tokens):
            defined.add(tokens[k + 1].text)
            if k + 2 < len(tokens) and tokens[k + 2].text == "(":
                end = close(tokens, k + 2)
                defined.update(t.text for t in tokens[k + 3:end] if t.kind == "ident")
    return degree(_Parser(tokens, frozenset(defined)).whole().work)
