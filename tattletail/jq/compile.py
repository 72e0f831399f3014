"""The jq subset of ``jqparse``, compiled to Python closures with jq's semantics.

Each AST node becomes a function of its input in one of three modes, so that the common case costs a
few Python calls and no generator: ``ONE`` returns exactly one output (or raises ``JqError``), ``OPT``
returns one output or ``NOTHING`` (``select``, ``try``), ``MANY`` returns an iterable (``.[]``, ``,``).
A rule only needs its first output, so ``MANY`` nodes are iterated lazily and stopped at the first.

Where jq and Python differ, jq wins: ``jqvalues`` gives equality, order and printing; paths on ``null``
give ``null``, on other non-objects raise as jq does; ``.[]?`` and ``?`` swallow errors; ``//`` treats
``false`` (not errors) on its left as absent; ``test`` accepts only regular expressions that mean the same
in Python's ``re`` and jq's Oniguruma (others fall back to libjq, see ``jq.regex``). Builtins outside
the list below are ``Unsupported`` and the rule runs in libjq. jq's evaluation order is kept where an
error can tell (the right operand, an index and the last interpolation are evaluated first), and so are
libjq's error messages. Where a value is beyond what can be computed exactly (see ``values``), the code
raises ``Fallback`` and the caller asks libjq.
"""


from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from tattletail.jq.nodes import Node, Unsupported
from tattletail.jq.parse import parse
from tattletail.jq.regex import REGEX_BUDGET, regex_agrees, regex_shape
from tattletail.jq.values import (
    Double,
    Fallback,
    JqError,
    compare,
    dump_trunc,
    equal,
    error_value,
    tojson,
    tostring,
    truthy,
    type_name,
)

__all__ = ["MANY", "NOTHING", "ONE", "OPT", "REGEX_BUDGET", "Compiled", "as_many", "compile_program", "first",
           "regex_agrees", "regex_shape", "root_fields"]

ONE, OPT, MANY = "one", "opt", "many"
NOTHING: Any = object()
Compiled = tuple[str, Callable[[Any], Any]]

# ---------------------------------------------------------------- conversions between modes


def as_many(c: Compiled) -> Callable[[Any], Iterable[Any]]:
    mode, f = c
    if mode == MANY:
        return f
    if mode == ONE:
        return lambda v: (f(v),)

    def many(v: Any) -> Iterable[Any]:
        r = f(v)
        return () if r is NOTHING else (r,)

    return many


def first(c: Compiled, v: Any) -> Any:
    """The first output of ``c`` on ``v``, or ``NOTHING``."""
    mode, f = c
    if mode == MANY:
        for out in f(v):
            return out
        return NOTHING
    return f(v)


# ---------------------------------------------------------------- paths

_INT_MAX = 2**31 - 1


def _get_field(v: Any, name: str) -> Any:
    if isinstance(v, dict):
        return v.get(name)
    if v is None:
        return None
    raise JqError(f"Cannot index {type_name(v)} with string ({dump_trunc(name)})")


def _get_index(v: Any, key: Any) -> Any:
    """``jv_get``: objects by string, arrays by number (truncated toward zero) or by array (the indexes
    where it occurs), ``null`` by string or number; anything else is an error."""
    if isinstance(key, str):
        return _get_field(v, key)
    if isinstance(key, int | float) and not isinstance(key, bool):
        if isinstance(v, list):
            if key != key:
                return None
            i = int(max(min(key, _INT_MAX), -_INT_MAX - 1))  # C's (int) cast truncates toward zero
            if i < 0:
                i += len(v)
            return v[i] if 0 <= i < len(v) else None
        if v is None:
            return None
    elif isinstance(v, list) and isinstance(key, list):
        return _indexes(v, key)
    elif isinstance(key, dict) and (v is None or isinstance(v, list | str)):
        if v is None:
            return None
        raise Fallback("slice by object")
    raise JqError(f"Cannot index {type_name(v)} with {type_name(key)} ({dump_trunc(key)})")


def _indexes(a: list[Any], b: list[Any]) -> list[Any]:
    """``jv_array_indexes``, quirks included: where ``b`` occurs in ``a`` as a run of elements."""
    res: list[Any] = []
    for ai in range(len(a)):
        idx = -1
        for bi, belem in enumerate(b):
            same = ai + bi < len(a) and equal(a[ai + bi], belem)
            if not same:
                idx = -1
            elif bi == 0 and idx == -1:
                idx = ai
        if idx > -1:
            res.append(idx)
    return res


def _iterate(v: Any) -> Iterable[Any]:
    if isinstance(v, list):
        return v
    if isinstance(v, dict):
        return v.values()
    raise JqError(f"Cannot iterate over {error_value(v)}")


# ---------------------------------------------------------------- operators


def _add(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    ta, tb = type_name(a), type_name(b)
    if ta == tb == "number":
        return Double(float(a) + float(b))
    if ta == tb and ta in ("string", "array"):
        return a + b
    if ta == tb == "object":
        return {**a, **b}
    raise JqError(f"{error_value(a)} and {error_value(b)} cannot be added")


def _sub(a: Any, b: Any) -> Any:
    ta, tb = type_name(a), type_name(b)
    if ta == tb == "number":
        return Double(float(a) - float(b))
    if ta == tb == "array":
        return [x for x in a if not any(equal(x, y) for y in b)]
    raise JqError(f"{error_value(a)} and {error_value(b)} cannot be subtracted")


def _mul(a: Any, b: Any) -> Any:
    ta, tb = type_name(a), type_name(b)
    if ta == tb == "number":
        return Double(float(a) * float(b))
    if {ta, tb} == {"string", "number"}:
        text, d = (a, float(b)) if ta == "string" else (b, float(a))
        n = -1 if d < 0 or d != d else _INT_MAX if d > _INT_MAX else int(d)
        if n < 0:
            return None
        size = len(text.encode("utf-8")) * n
        if size >= _INT_MAX - 16:
            raise JqError("Repeat string result too long") if size >= _INT_MAX else Fallback("repeat near the limit")
        if size > 10_000_000:
            raise Fallback("a very long repeated string")
        return text * n
    if ta == tb == "object":
        return _deep_merge(a, b)
    raise JqError(f"{error_value(a)} and {error_value(b)} cannot be multiplied")


def _deep_merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        out[k] = _deep_merge(out[k], v) if isinstance(out.get(k), dict) and isinstance(v, dict) else v
    return out


def _split(text: str, sep: str) -> list[str]:
    if text == "":
        return []
    return list(text) if sep == "" else text.split(sep)


def _div(a: Any, b: Any) -> Any:
    ta, tb = type_name(a), type_name(b)
    if ta == tb == "string":
        return _split(a, b)
    if ta == tb == "number":
        if b == 0:
            raise JqError(f"{error_value(a)} and {error_value(b)} cannot be divided because the divisor is zero")
        return Double(float(a) / float(b))
    raise JqError(f"{error_value(a)} and {error_value(b)} cannot be divided")


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": equal,
    "!=": lambda a, b: not equal(a, b),
    "<": lambda a, b: compare(a, b) < 0,
    "<=": lambda a, b: compare(a, b) <= 0,
    ">": lambda a, b: compare(a, b) > 0,
    ">=": lambda a, b: compare(a, b) >= 0,
}
_ARITH: dict[str, Callable[[Any, Any], Any]] = {"+": _add, "-": _sub, "*": _mul, "/": _div}


def _kind(v: Any) -> Any:
    """``jv_get_kind``: like ``type_name`` but ``true`` and ``false`` are different kinds."""
    return v if v is True or v is False else type_name(v)


def _contains(a: Any, b: Any) -> bool:
    """``contains``: the outer kinds must agree (an error otherwise); inside, other kinds do not contain."""
    if _kind(a) != _kind(b):
        raise JqError(f"{error_value(a)} and {error_value(b)} cannot have their containment checked")
    return _contained(a, b)


def _contained(a: Any, b: Any) -> bool:
    ka = _kind(a)
    if ka != _kind(b):
        return False
    if ka == "object":
        return all(k in a and _contained(a[k], v) for k, v in b.items())
    if ka == "array":
        return all(any(_contained(x, y) for x in a) for y in b)
    if ka == "string":
        return b in a
    return equal(a, b)


def _length(v: Any) -> Any:
    if v is None:
        return 0
    if v is True or v is False:
        raise JqError(f"{error_value(v)} has no length")
    if isinstance(v, int | float):
        return Double(abs(v)) if type(v) is Double else abs(v)  # abs keeps a literal a literal
    return len(v)


def _negate(v: Any) -> Any:
    if not isinstance(v, int | float) or isinstance(v, bool):
        raise JqError(f"{error_value(v)} cannot be negated")
    if type(v) is Double:
        return Double(-v)
    return abs(v) if v == 0 else -v  # a literal negates as a decimal: zero has no sign


# ---------------------------------------------------------------- the compiler


class _Compiler:
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
                return _get_field(v, name)
            return ONE, get
        if mode == ONE:
            def get_one(v: Any) -> Any:
                r = f(v)
                if isinstance(r, dict):
                    return r.get(name)
                return _get_field(r, name)
            return ONE, get_one
        if mode == OPT:
            def get_opt(v: Any) -> Any:
                r = f(v)
                return r if r is NOTHING else _get_field(r, name)
            return OPT, get_opt
        return MANY, lambda v: (_get_field(r, name) for r in f(v))

    def c_index(self, term: Node, index: Node) -> Compiled:
        base_c, key = self.compile(term), self.compile(index)
        if key[0] == ONE and base_c[0] == ONE:
            bf, kf = base_c[1], key[1]

            def index_one(v: Any) -> Any:
                k = kf(v)  # jq evaluates the index first, on the input (not on the base)
                return _get_index(bf(v), k)
            return ONE, index_one
        base, keys = as_many(base_c), as_many(key)
        return MANY, lambda v: (_get_index(b, k) for k in keys(v) for b in base(v))

    def c_iterate(self, term: Node) -> Compiled:
        base = as_many(self.compile(term))
        return MANY, lambda v: (x for b in base(v) for x in _iterate(b))

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
                        yield _get_index(b, k)
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
            return ONE, lambda v: _negate(f(v))
        many = as_many((mode, f))
        return MANY, lambda v: (_negate(x) for x in many(v))

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
        fn = _COMPARE.get(op) or _ARITH.get(op)
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

    # ---------------------------------------------------------------- builtins

    def c_call(self, name: str, args: list[Node]) -> Compiled:
        method = getattr(self, f"b_{name}_{len(args)}", None)
        if method is None:
            raise Unsupported(f"builtin {name}/{len(args)}")
        return method(*args)  # type: ignore[no-any-return]

    def b_empty_0(self) -> Compiled:
        return MANY, lambda v: ()

    def b_not_0(self) -> Compiled:
        return ONE, lambda v: not truthy(v)

    def b_length_0(self) -> Compiled:
        return ONE, _length

    def b_type_0(self) -> Compiled:
        return ONE, type_name

    def b_tostring_0(self) -> Compiled:
        return ONE, tostring

    def b_tojson_0(self) -> Compiled:
        return ONE, tojson

    def b_ascii_downcase_0(self) -> Compiled:
        def down(v: Any) -> str:
            if not isinstance(v, str):
                raise JqError("explode input must be a string")
            return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in v)
        return ONE, down

    def b_ascii_upcase_0(self) -> Compiled:
        def up(v: Any) -> str:
            if not isinstance(v, str):
                raise JqError("explode input must be a string")
            return "".join(chr(ord(c) - 32) if "a" <= c <= "z" else c for c in v)
        return ONE, up

    def b_keys_0(self) -> Compiled:
        def keys(v: Any) -> Any:
            if isinstance(v, dict):
                return sorted(v, key=lambda k: k.encode("utf-8"))
            if isinstance(v, list):
                return list(range(len(v)))
            raise JqError(f"{error_value(v)} has no keys")
        return ONE, keys

    def b_select_1(self, cond: Node) -> Compiled:
        mode, f = self.compile(cond)
        if mode == ONE:
            return OPT, lambda v: v if truthy(f(v)) else NOTHING
        many = as_many((mode, f))
        return MANY, lambda v: (v for c in many(v) if truthy(c))

    def b_error_0(self) -> Compiled:
        def err(v: Any) -> Any:
            raise JqError(v)
        return ONE, err

    def b_error_1(self, message: Node) -> Compiled:
        f = as_many(self.compile(message))

        def err(v: Any) -> Iterable[Any]:
            for m in f(v):
                raise JqError(m)
            return ()
        return MANY, err

    def b_has_1(self, key: Node) -> Compiled:
        kmode, kf = self.compile(key)
        if kmode != ONE:
            raise Unsupported("has with a generator")

        def has(v: Any) -> bool:  # jv_has
            k = kf(v)
            if v is None:
                return False
            if isinstance(v, dict) and isinstance(k, str):
                return k in v
            if isinstance(v, list) and isinstance(k, int | float) and not isinstance(k, bool):
                return k == k and 0 <= int(k) < len(v)  # the index truncated toward zero, as C casts
            raise JqError(f"Cannot check whether {type_name(v)} has a {type_name(k)} key")
        return ONE, has

    def _string_pred(self, arg: Node, name: str, test: Callable[[str, str], bool]) -> Compiled:
        amode, af = self.compile(arg)
        if amode != ONE:
            raise Unsupported(f"{name} with a generator")

        def pred(v: Any) -> bool:
            a = af(v)
            if not isinstance(v, str) or not isinstance(a, str):
                raise JqError(f"{name}() requires string inputs")
            return test(v, a)
        return ONE, pred

    def b_startswith_1(self, arg: Node) -> Compiled:
        return self._string_pred(arg, "startswith", str.startswith)

    def b_endswith_1(self, arg: Node) -> Compiled:
        return self._string_pred(arg, "endswith", str.endswith)

    def b_ltrimstr_1(self, arg: Node) -> Compiled:
        amode, af = self.compile(arg)
        if amode != ONE:
            raise Unsupported("ltrimstr with a generator")

        def ltrim(v: Any) -> Any:  # libjq 1.7: non-strings are an error from its startswith
            a = af(v)
            if not isinstance(v, str) or not isinstance(a, str):
                raise JqError("startswith() requires string inputs")
            return v[len(a):] if v.startswith(a) else v
        return ONE, ltrim

    def b_rtrimstr_1(self, arg: Node) -> Compiled:
        amode, af = self.compile(arg)
        if amode != ONE:
            raise Unsupported("rtrimstr with a generator")

        def rtrim(v: Any) -> Any:
            a = af(v)
            if not isinstance(v, str) or not isinstance(a, str):
                raise JqError("endswith() requires string inputs")
            return v[: len(v) - len(a)] if a and v.endswith(a) else v
        return ONE, rtrim

    def b_contains_1(self, arg: Node) -> Compiled:
        amode, af = self.compile(arg)
        if amode != ONE:
            raise Unsupported("contains with a generator")
        return ONE, lambda v: _contains(v, af(v))

    def b_test_1(self, pattern: Node) -> Compiled:
        return self._test(pattern, None)

    def b_test_2(self, pattern: Node, flags: Node) -> Compiled:
        return self._test(pattern, flags)

    def _test(self, pattern: Node, flags: Node | None) -> Compiled:
        if pattern[0] != "literal" or not isinstance(pattern[1], str):
            raise Unsupported("test with a computed pattern")
        text = pattern[1]
        if flags is not None:
            if flags[0] != "literal" or flags[1] not in ("", "i", None):
                raise Unsupported("test flags other than i")
            if flags[1] == "i":
                text = "(?i)" + text if not text.startswith("(?i)") else text
        shape = regex_shape(text)
        if shape is None:
            raise Unsupported(f"regular expression {pattern[1]!r}")
        fold = text.startswith("(?i)")
        if fold and not text.isascii():
            raise Unsupported("case-insensitive regular expression with non-ASCII characters")
        repeats, choices = shape
        compiled = re.compile(text)

        def test(v: Any) -> bool:
            if not isinstance(v, str):
                raise JqError(f"{error_value(v)} cannot be matched, as it is not a string")
            if fold and not v.isascii():
                raise Fallback("Unicode case folding differs between Python and Oniguruma")
            if (len(v) + 1) ** (repeats + 1) * choices > REGEX_BUDGET:
                raise Fallback("a subject long enough to reach Oniguruma's retry limit")
            return compiled.search(v) is not None
        return ONE, test

    def b_split_1(self, sep: Node) -> Compiled:
        smode, sf = self.compile(sep)
        if smode != ONE:
            raise Unsupported("split with a generator")

        def split(v: Any) -> Any:
            s = sf(v)
            if not isinstance(v, str) or not isinstance(s, str):
                raise JqError("split input and separator must be strings")
            return _split(v, s)
        return ONE, split

    def b_join_1(self, sep: Node) -> Compiled:
        smode, sf = self.compile(sep)
        if smode != ONE:
            raise Unsupported("join with a generator")

        def join(v: Any) -> Any:  # jq's own definition: a reduce over .[] with + (so its errors too)
            s = sf(v)
            acc: Any = None
            for x in _iterate(v):
                piece = "" if x is None else tojson(x) if isinstance(x, bool | int | float) else x
                acc = _add("" if acc is None else _add(acc, s), piece)
            return acc if truthy(acc) else ""
        return ONE, join

    def b_first_0(self) -> Compiled:
        return ONE, lambda v: _get_index(v, 0)

    def b_last_0(self) -> Compiled:
        return ONE, lambda v: _get_index(v, -1)

    def b_first_1(self, gen: Node) -> Compiled:
        c = self.compile(gen)
        if c[0] != MANY:
            return c
        return OPT, lambda v: first(c, v)

    def b_map_1(self, f: Node) -> Compiled:
        g = as_many(self.compile(f))
        return ONE, lambda v: [out for x in _iterate(v) for out in g(x)]

    def b_values_0(self) -> Compiled:
        return OPT, lambda v: NOTHING if v is None else v

    def b_IN_1(self, source: Node) -> Compiled:  # noqa: N802 - jq's name
        s = as_many(self.compile(source))
        return ONE, lambda v: any(equal(x, v) for x in s(v))

    def b_IN_2(self, source: Node, s: Node) -> Compiled:  # noqa: N802 - jq's name
        src, sm = as_many(self.compile(source)), as_many(self.compile(s))
        return ONE, lambda v: any(equal(a, b) for b in sm(v) for a in src(v))

    def _quantifier(self, gen: Node | None, cond: Node | None, want: bool) -> Compiled:
        g = as_many(self.compile(gen)) if gen is not None else _iterate
        c = as_many(self.compile(cond)) if cond is not None else (lambda x: (x,))

        def quant(v: Any) -> bool:
            for x in g(v):
                for r in c(x):
                    if truthy(r) == want:
                        return want
            return not want
        return ONE, quant

    def b_any_0(self) -> Compiled:
        return self._quantifier(None, None, True)

    def b_any_1(self, cond: Node) -> Compiled:
        return self._quantifier(None, cond, True)

    def b_any_2(self, gen: Node, cond: Node) -> Compiled:
        return self._quantifier(gen, cond, True)

    def b_all_0(self) -> Compiled:
        return self._quantifier(None, None, False)

    def b_all_1(self, cond: Node) -> Compiled:
        return self._quantifier(None, cond, False)

    def b_all_2(self, gen: Node, cond: Node) -> Compiled:
        return self._quantifier(gen, cond, False)


def root_fields(program: str) -> frozenset[str] | None:
    """The record's top-level fields whose values the program can read, or ``None`` when it may read
    anything (the record itself consumed). Only values inside these fields can make the compiled path
    differ from libjq, so only they need the exactness check (``values.exact``)."""
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


def compile_program(program: str) -> Compiled:
    """The compiled program; ``Unsupported`` (naming the construct) when it is outside the subset."""
    return _Compiler().compile(parse(program))
