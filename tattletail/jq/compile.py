"""The compiler proper: the AST of ``parse`` -> Python closures with jq's semantics.

Each node becomes a closure in one of the three ``modes`` (``ONE``, ``OPT``, ``MANY``), chosen so the
common rule shape costs a few Python calls and no generator. Where jq and Python differ, jq wins:
``values`` gives equality, order and printing; ``paths`` on ``null`` give ``null``, on other
non-objects raise as jq does; ``.[]?`` and ``?`` swallow errors; ``//`` treats ``false`` (not errors) on
its left as absent. Builtins are in ``builtins`` (a mixin of the compiler), operators in ``operators``.
jq's evaluation order is kept where an error can tell (the right operand, an index and the last
interpolation are evaluated first), and so are libjq's error messages. Where a value is beyond what can
be computed exactly (see ``values``), the code raises ``Fallback`` and the caller asks libjq.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tattletail.jq.builtins import Builtins
from tattletail.jq.modes import MANY, NOTHING, ONE, OPT, Compiled, as_many
from tattletail.jq.nodes import Node, Unsupported
from tattletail.jq.operators import ARITH, COMPARE, negate
from tattletail.jq.parse import parse
from tattletail.jq.paths import get_field, get_index, iterate
from tattletail.jq.values import JqError, error_value, tostring, truthy


class _Compiler(Builtins):
    """One ``c_<kind>`` method per AST node kind; calls go to the ``b_*`` methods of ``Builtins``."""

    def compile(self, node: Node) -> Compiled:
        kind = node[0]
        method = getattr(self, f"c_{kind}", None)
        if method is None:
            raise Unsupported(kind)
        return method(*node[1:])  # type: ignore[no-any-return]

    def c_identity(self) -> Compiled:
        return ONE, lambda v: v

    def c_literal(self, value: Any) -> Compiled:
        return ONE, lambda v: value

    def c_field(self, term: Node, name: str) -> Compiled:
        mode, f = self.compile(term)
        if term == ("identity",):
            def get(v: Any) -> Any:
                if isinstance(v, dict):
                    return v.get(name)
                return get_field(v, name)
            return ONE, get
        if mode == ONE:
            def get_one(v: Any) -> Any:
                r = f(v)
                if isinstance(r, dict):
                    return r.get(name)
                return get_field(r, name)
            return ONE, get_one
        if mode == OPT:
            def get_opt(v: Any) -> Any:
                r = f(v)
                return r if r is NOTHING else get_field(r, name)
            return OPT, get_opt
        return MANY, lambda v: (get_field(r, name) for r in f(v))

    def c_index(self, term: Node, index: Node) -> Compiled:
        base_c, key = self.compile(term), self.compile(index)
        if key[0] == ONE and base_c[0] == ONE:
            bf, kf = base_c[1], key[1]

            def index_one(v: Any) -> Any:
                k = kf(v)  # jq evaluates the index first, on the input (not on the base)
                return get_index(bf(v), k)
            return ONE, index_one
        base, keys = as_many(base_c), as_many(key)
        return MANY, lambda v: (get_index(b, k) for k in keys(v) for b in base(v))

    def c_iterate(self, term: Node) -> Compiled:
        base = as_many(self.compile(term))
        return MANY, lambda v: (x for b in base(v) for x in iterate(b))

    def c_optional(self, step: Node) -> Compiled:
        """``.a?``, ``.a[i]?``, ``.a[]?``: the base is evaluated as usual; only the last step's error is
        swallowed."""
        kind, base = step[0], self.compile(step[1])
        bmany = as_many(base)
        if kind == "iterate":
            def each(v: Any) -> Iterable[Any]:
                for b in bmany(v):
                    if isinstance(b, list | dict):
                        yield from (b if isinstance(b, list) else b.values())
            return MANY, each
        if kind == "field":
            name = step[2]

            def field_opt(v: Any) -> Iterable[Any]:
                for b in bmany(v):
                    if b is None or isinstance(b, dict):
                        yield None if b is None else b.get(name)
            return MANY, field_opt
        keys = as_many(self.compile(step[2]))

        def index_opt(v: Any) -> Iterable[Any]:
            for k in keys(v):
                for b in bmany(v):
                    try:
                        yield get_index(b, k)
                    except JqError:
                        continue
        return MANY, index_opt

    def c_try(self, body: Node, handler: Node | None) -> Compiled:
        mode, f = self.compile(body)
        h = self.compile(handler) if handler is not None else None
        if mode in (ONE, OPT) and h is None:
            def try_one(v: Any) -> Any:
                try:
                    return f(v)
                except JqError:
                    return NOTHING
            return OPT, try_one
        many = as_many((mode, f))

        def try_many(v: Any) -> Iterable[Any]:
            try:
                yield from many(v)
            except JqError as exc:
                if h is not None:
                    yield from as_many(h)(exc.value)
        return MANY, try_many

    def c_format(self, parts: list[Any]) -> Compiled:
        compiled = [p if isinstance(p, str) else self.compile(p) for p in parts]
        if all(isinstance(p, str) or p[0] == ONE for p in compiled):
            fns = [p if isinstance(p, str) else p[1] for p in compiled]

            def fmt_one(v: Any) -> str:  # jq evaluates the last interpolation first
                return "".join(reversed([p if isinstance(p, str) else tostring(p(v)) for p in reversed(fns)]))
            return ONE, fmt_one
        manies = [p if isinstance(p, str) else as_many(p) for p in compiled]

        def fmt(v: Any) -> Iterable[str]:
            def rest(i: int) -> Iterable[str]:
                if i == len(manies):
                    yield ""
                    return
                p = manies[i]
                if isinstance(p, str):
                    for tail in rest(i + 1):
                        yield p + tail
                    return
                for tail in rest(i + 1):  # jq varies the earlier parts fastest
                    for out in p(v):
                        yield tostring(out) + tail
            return rest(0)
        return MANY, fmt

    def c_array(self, inner: Node) -> Compiled:
        f = as_many(self.compile(inner))
        return ONE, lambda v: list(f(v))

    def c_object(self, entries: list[tuple[Node, Node]]) -> Compiled:
        """jq evaluates each entry's key, then its value, then checks the key (so a value's error comes
        first); the first entry's outputs vary slowest; a repeated key keeps its first place."""
        compiled = [(self.compile(k), self.compile(val)) for k, val in entries]
        if all(k[0] == ONE and val[0] == ONE for k, val in compiled):
            pairs = [(k[1], val[1]) for k, val in compiled]

            def obj(v: Any) -> Any:
                out = {}
                for kf, vf in pairs:
                    key = kf(v)
                    value = vf(v)
                    if not isinstance(key, str):
                        raise JqError(f"Cannot use {error_value(key)} as object key")
                    out[key] = value
                return out
            return ONE, obj
        manies = [(as_many(k), as_many(val)) for k, val in compiled]

        def objs(v: Any) -> Iterable[Any]:
            def build(i: int, acc: dict[str, Any]) -> Iterable[Any]:
                if i == len(manies):
                    yield acc
                    return
                kf, vf = manies[i]
                for key in kf(v):
                    for value in vf(v):
                        if not isinstance(key, str):
                            raise JqError(f"Cannot use {error_value(key)} as object key")
                        yield from build(i + 1, {**acc, key: value})
            return build(0, {})
        return MANY, objs

    def c_neg(self, term: Node) -> Compiled:
        mode, f = self.compile(term)
        if mode == ONE:
            return ONE, lambda v: negate(f(v))
        many = as_many((mode, f))
        return MANY, lambda v: (negate(x) for x in many(v))

    def c_pipe(self, a: Node, b: Node) -> Compiled:
        if a[0] == "call" and a[1] == "select" and len(a[2]) == 1:  # select(c) | rest: the common rule shape
            cmode, cf = self.compile(a[2][0])
            rmode, rf = self.compile(b)
            if cmode == ONE and rmode in (ONE, OPT):
                return OPT, lambda v: rf(v) if truthy(cf(v)) else NOTHING
        (am, af), (bm, bf) = self.compile(a), self.compile(b)
        if am == ONE and bm == ONE:
            return ONE, lambda v: bf(af(v))
        if am in (ONE, OPT) and bm in (ONE, OPT):
            def pipe_opt(v: Any) -> Any:
                r = af(v)
                return NOTHING if r is NOTHING else bf(r)
            return OPT, pipe_opt
        left, right = as_many((am, af)), as_many((bm, bf))
        return MANY, lambda v: (out for x in left(v) for out in right(x))

    def c_comma(self, a: Node, b: Node) -> Compiled:
        left, right = as_many(self.compile(a)), as_many(self.compile(b))

        def both(v: Any) -> Iterable[Any]:
            yield from left(v)
            yield from right(v)
        return MANY, both

    def c_alt(self, a: Node, b: Node) -> Compiled:
        (am, af), right = self.compile(a), self.compile(b)
        if am == ONE and right[0] == ONE:
            rf = right[1]

            def alt_one(v: Any) -> Any:
                r = af(v)  # an error on the left is not absence: it propagates, as in jq
                return r if truthy(r) else rf(v)
            return ONE, alt_one
        left, rmany = as_many((am, af)), as_many(right)

        def alt(v: Any) -> Iterable[Any]:
            found = False
            for out in left(v):
                if truthy(out):
                    found = True
                    yield out
            if not found:
                yield from rmany(v)
        return MANY, alt

    def c_and(self, a: Node, b: Node) -> Compiled:
        return self._logic(a, b, is_and=True)

    def c_or(self, a: Node, b: Node) -> Compiled:
        return self._logic(a, b, is_and=False)

    def _logic(self, a: Node, b: Node, is_and: bool) -> Compiled:
        (am, af), (bm, bf) = self.compile(a), self.compile(b)
        if am == ONE and bm == ONE:
            if is_and:
                return ONE, lambda v: truthy(af(v)) and truthy(bf(v))
            return ONE, lambda v: truthy(af(v)) or truthy(bf(v))
        left, right = as_many((am, af)), as_many((bm, bf))

        def logic(v: Any) -> Iterable[bool]:
            for x in left(v):
                if truthy(x) != is_and:
                    yield not is_and
                    continue
                for y in right(v):
                    yield truthy(y)
        return MANY, logic

    def c_binop(self, op: str, a: Node, b: Node) -> Compiled:
        fn = COMPARE.get(op) or ARITH.get(op)
        if fn is None:
            raise Unsupported(f"operator {op}")
        (am, af), (bm, bf) = self.compile(a), self.compile(b)
        if am == ONE and bm == ONE:
            if b[0] == "literal":  # the usual ``.path == "constant"``
                const = b[1]
                return ONE, lambda v: fn(af(v), const)

            def binop(v: Any) -> Any:
                right = bf(v)  # jq evaluates the right operand first (its error comes first)
                return fn(af(v), right)
            return ONE, binop
        left, right = as_many((am, af)), as_many((bm, bf))
        return MANY, lambda v: (fn(x, y) for y in right(v) for x in left(v))  # jq: right operand outer

    def c_if(self, branches: list[tuple[Node, Node]], otherwise: Node | None) -> Compiled:
        compiled = [(self.compile(c), self.compile(t)) for c, t in branches]
        other = self.compile(otherwise) if otherwise is not None else (ONE, lambda v: v)
        if all(c[0] == ONE and t[0] == ONE for c, t in compiled) and other[0] == ONE:
            pairs = [(c[1], t[1]) for c, t in compiled]
            of = other[1]

            def if_one(v: Any) -> Any:
                for cf, tf in pairs:
                    if truthy(cf(v)):
                        return tf(v)
                return of(v)
            return ONE, if_one
        manies = [(as_many(c), as_many(t)) for c, t in compiled]
        omany = as_many(other)

        def if_many(v: Any, i: int = 0) -> Iterable[Any]:
            if i == len(manies):
                yield from omany(v)
                return
            cf, tf = manies[i]
            for c in cf(v):
                if truthy(c):
                    yield from tf(v)
                else:
                    yield from if_many(v, i + 1)
        return MANY, if_many



def compile_program(program: str) -> Compiled:
    """The compiled program; ``Unsupported`` (naming the construct) when it is outside the subset."""
    return _Compiler().compile(parse(program))
