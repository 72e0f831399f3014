"""The builtins of the compiled subset (``select``, ``test``, ``any``, ``IN``, ``has``, ...), one method each.

A call ``name(a; b)`` compiles through the method ``b_<name>_<arity>``; a builtin without one is
``Unsupported`` and the rule runs in libjq. The methods are a mixin of the compiler (``compile``) so that
each can compile its arguments in the same modes; they keep libjq's argument order, errors and messages
(``ltrimstr`` on a non-string raises from its ``startswith``, as libjq does). ``test`` accepts only
regular expressions that mean the same in Python's ``re`` and jq's Oniguruma (see ``regex``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from tattletail.jq.modes import MANY, NOTHING, ONE, OPT, Compiled, as_many, first
from tattletail.jq.nodes import Node, Unsupported
from tattletail.jq.operators import add, contains, length, split_text
from tattletail.jq.paths import get_index, iterate
from tattletail.jq.regex import REGEX_BUDGET, regex_shape
from tattletail.jq.values import Fallback, JqError, equal, error_value, tojson, tostring, truthy, type_name


class Builtins:
    """``c_call`` and the ``b_*`` methods; the compiler proper supplies ``compile``."""

    def compile(self, node: Node) -> Compiled:
        raise NotImplementedError  # provided by compile._Compiler

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
        return ONE, length

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

    def _single(self, arg: Node, name: str) -> Callable[[Any], Any]:
        """``arg`` compiled, when it has exactly one output: a generator argument (whose outputs jq
        combines with the input's in its own order) is left to libjq."""
        mode, f = self.compile(arg)
        if mode != ONE:
            raise Unsupported(f"{name} with a generator")
        return f

    def b_has_1(self, key: Node) -> Compiled:
        kf = self._single(key, "has")

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
        af = self._single(arg, name)

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
        af = self._single(arg, "ltrimstr")

        def ltrim(v: Any) -> Any:  # libjq 1.7: non-strings are an error from its startswith
            a = af(v)
            if not isinstance(v, str) or not isinstance(a, str):
                raise JqError("startswith() requires string inputs")
            return v[len(a):] if v.startswith(a) else v
        return ONE, ltrim

    def b_rtrimstr_1(self, arg: Node) -> Compiled:
        af = self._single(arg, "rtrimstr")

        def rtrim(v: Any) -> Any:
            a = af(v)
            if not isinstance(v, str) or not isinstance(a, str):
                raise JqError("endswith() requires string inputs")
            return v[: len(v) - len(a)] if a and v.endswith(a) else v
        return ONE, rtrim

    def b_contains_1(self, arg: Node) -> Compiled:
        af = self._single(arg, "contains")
        return ONE, lambda v: contains(v, af(v))

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
        sf = self._single(sep, "split")

        def split(v: Any) -> Any:
            s = sf(v)
            if not isinstance(v, str) or not isinstance(s, str):
                raise JqError("split input and separator must be strings")
            return split_text(v, s)
        return ONE, split

    def b_join_1(self, sep: Node) -> Compiled:
        sf = self._single(sep, "join")

        def join(v: Any) -> Any:  # jq's own definition: a reduce over .[] with + (so its errors too)
            s = sf(v)
            acc: Any = None
            for x in iterate(v):
                piece = "" if x is None else tojson(x) if isinstance(x, bool | int | float) else x
                acc = add("" if acc is None else add(acc, s), piece)
            return acc if truthy(acc) else ""
        return ONE, join

    def b_first_0(self) -> Compiled:
        return ONE, lambda v: get_index(v, 0)

    def b_last_0(self) -> Compiled:
        return ONE, lambda v: get_index(v, -1)

    def b_first_1(self, gen: Node) -> Compiled:
        c = self.compile(gen)
        if c[0] != MANY:
            return c
        return OPT, lambda v: first(c, v)

    def b_map_1(self, f: Node) -> Compiled:
        g = as_many(self.compile(f))
        return ONE, lambda v: [out for x in iterate(v) for out in g(x)]

    def b_values_0(self) -> Compiled:
        return OPT, lambda v: NOTHING if v is None else v

    def b_IN_1(self, source: Node) -> Compiled:  # noqa: N802 - jq's name
        s = as_many(self.compile(source))
        return ONE, lambda v: any(equal(x, v) for x in s(v))

    def b_IN_2(self, source: Node, s: Node) -> Compiled:  # noqa: N802 - jq's name
        src, sm = as_many(self.compile(source)), as_many(self.compile(s))
        return ONE, lambda v: any(equal(a, b) for b in sm(v) for a in src(v))

    def _quantifier(self, gen: Node | None, cond: Node | None, want: bool) -> Compiled:
        g = as_many(self.compile(gen)) if gen is not None else iterate
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
