"""Static cost check: how a jq program's work grows with the size of the record.

``tattletail.guard`` proves that a program ends; that is not enough to run it in-process. ``[.items[] as
$a | .items[] | select(. == $a)] | length > 0`` ends, but on a record with a 3,000-element list it makes
9 million comparisons, and libjq cannot be stopped. So a program is *proven* only when its work is at
most linear in the record's size (the record's size itself is bounded by the input limits); a program
whose work may grow as N² or faster is left to the isolation child and its budget, like an unproven one.

The model. jq passes values by reference, so outputting or binding a value costs O(1); work is spent
by iterating (``.[]``, ``..``), by builtins that read their input (``tostring``, ``test``, ``sort``...),
by comparisons, additions and string searches. Each expression, applied to one input of size ``n``, is
described by three polynomials in ``n`` and ``N`` (the size of values reached through a variable, which
may be the whole record): its ``work``, its number of outputs ``outs``, and the sum of its outputs'
sizes ``size``. A polynomial is the set of its maximal monomials ``n^d N^v``. Then:

- ``a | b`` runs ``b`` once per output of ``a``. When ``a``'s ``K`` outputs total ``S`` in size, ``b``'s
  work on them sums to at most ``S^d N^v`` per monomial with ``d >= 1`` (a sum of powers is at most the
  power of the sum) and ``K N^v`` for ``d = 0``: ``.a[] | .b[]`` stays linear, as each element is visited
  once;
- ``a op b``, ``{k: a, l: b}``, a builtin's arguments and ``if a then b ...`` are cartesian: ``b`` runs
  once per output of ``a`` *on the same input*, so ``.a[] == .b[]`` is quadratic;
- ``a as $x | body`` runs the body on the same input once per output of ``a``: ``.items[] as $a |
  .items[]`` is quadratic, ``.items[] as $a | $a.name`` is linear.

Whatever the model cannot read (calls of ``def``-ined functions, loops, computed ranges) has an unknown
cost: the guard then proves nothing, which is already its verdict on those constructs. The threat is
the same as the guard's: a careless rule meeting a hostile record, not a rule written to fool the check.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from tattletail.jqtokens import Tok

Poly = frozenset[tuple[int, int]]  # monomials n^d N^v; the empty set is 0

UNKNOWN_DEGREE = 50
SMALL_RANGE = 64  # a constant range this long counts as a constant number of outputs; longer, as N


@lru_cache(maxsize=8192)
def poly(*monomials: tuple[int, int]) -> Poly:
    """The polynomial of these monomials, keeping only the maximal ones (degrees capped). Cached, as
    are the operations below: a program's polynomials are few and small, and checks run at load."""
    capped = {(min(d, UNKNOWN_DEGREE), min(v, UNKNOWN_DEGREE)) for d, v in monomials}
    if len(capped) <= 1:
        return frozenset(capped)
    return frozenset(m for m in capped if not any(o != m and o[0] >= m[0] and o[1] >= m[1] for o in capped))


ZERO, ONE, SIZE_N, SIZE_VAR = poly(), poly((0, 0)), poly((1, 0)), poly((0, 1))
UNKNOWN = poly((UNKNOWN_DEGREE, UNKNOWN_DEGREE))


@lru_cache(maxsize=8192)
def plus(*ps: Poly) -> Poly:
    return poly(*(m for p in ps for m in p))


@lru_cache(maxsize=8192)
def times(p: Poly, q: Poly) -> Poly:
    return poly(*((a + c, b + d) for a, b in p for c, d in q))


def power(p: Poly, k: int) -> Poly:
    out = ONE
    for _ in range(k):
        out = times(out, p)
    return out


def degree(p: Poly) -> int:
    """The degree at ``n = N`` (the program's input is the whole record)."""
    return max((d + v for d, v in p), default=0)


@lru_cache(maxsize=8192)
def summed(f: Poly, size: Poly, count: Poly) -> Poly:
    """``f`` summed over ``count`` inputs whose sizes total ``size``."""
    return plus(*(times(power(size, d), poly((0, v))) if d else times(count, poly((0, v))) for d, v in f))


@dataclass(frozen=True)
class Cost:
    """One expression applied to one input of size ``n``: work done, outputs, their total size."""

    work: Poly
    outs: Poly
    size: Poly
    items: Poly | None = None  # elements of the outputs, when known to be fewer than their size ([x])

    @property
    def elements(self) -> Poly:
        return self.size if self.items is None else self.items


LIT = Cost(ONE, ONE, ONE)
IDENTITY = FIELD = Cost(ONE, ONE, SIZE_N)
VARIABLE = Cost(ONE, ONE, SIZE_VAR)
LINEAR = Cost(SIZE_N, ONE, SIZE_N)        # reads its input once: tostring, length, keys, test...
ITERATE = Cost(SIZE_N, SIZE_N, SIZE_N)    # .[], .., paths: outputs disjoint parts (depth is bounded)
NOTHING = Cost(ONE, ZERO, ZERO)
OPAQUE = Cost(UNKNOWN, UNKNOWN, UNKNOWN)


def pipe(a: Cost, b: Cost) -> Cost:
    return Cost(plus(a.work, a.outs, summed(b.work, a.size, a.outs)), summed(b.outs, a.size, a.outs),
                summed(b.size, a.size, a.outs))


def product(a: Cost, b: Cost) -> Cost:
    """``b`` evaluated on the same input once per output of ``a`` (the outputs are all pairs)."""
    return Cost(plus(a.work, times(a.outs, b.work)), times(a.outs, b.outs),
                plus(times(a.size, b.outs), times(b.size, a.outs)))


def alternative(*costs: Cost) -> Cost:
    return Cost(plus(*(c.work for c in costs)), plus(*(c.outs for c in costs)), plus(*(c.size for c in costs)))


def collect(c: Cost) -> Cost:
    return Cost(plus(c.work, c.outs), ONE, plus(c.size, ONE), items=c.outs)


def single(c: Cost, size: Poly = ONE) -> Cost:
    return Cost(c.work, ONE, size)


def _pairs(a: Cost, b: Cost) -> Poly:
    """Work of comparing every output of ``a`` with every output of ``b`` (a comparison reads the smaller)."""
    count = times(a.outs, b.outs)
    if a.size == ONE or b.size == ONE:
        return count
    left, right = times(a.size, b.outs), times(b.size, a.outs)
    return plus(count, left if degree(left) <= degree(right) else right)


def binary(op: str, a: Cost, b: Cost) -> Cost:
    both = product(b, a)
    if op in ("and", "or", "%"):
        extra, size = both.outs, both.outs
    elif op in ("==", "!=", "<", "<=", ">", ">="):
        extra, size = _pairs(a, b), both.outs
    elif op in ("-", "/") and a.size != ONE and b.size != ONE:
        # array difference compares each element with each (reading the smaller), string split searches
        left, right = times(a.size, b.elements), times(b.size, a.elements)
        extra = plus(both.outs, left if degree(left) <= degree(right) else right)
        size = plus(times(a.size, b.outs), times(b.size, a.outs))
    else:  # + and * (concatenation, merge) copy their operands
        extra = size = plus(both.outs, times(a.size, b.outs), times(b.size, a.outs))
    return Cost(plus(both.work, extra), both.outs, size)


def assignment(op: str, a: Cost, b: Cost) -> Cost:
    """``a |= b`` applies ``b`` to each path's value; ``a = b``, ``a += b``... evaluate ``b`` on the input
    and update each path once per output of ``b`` (jq updates in place: one path costs O(depth))."""
    if op == "|=":
        return Cost(plus(pipe(a, b).work, a.outs), ONE, SIZE_N)
    per_value = plus(a.work, a.outs, a.size, times(a.outs, b.size))  # each path's value combined with b's
    return Cost(plus(b.work, times(b.outs, per_value)), b.outs, times(b.outs, SIZE_N))


# ----------------------------------------------------------------------------------- builtins

GENERATORS = frozenset({"paths", "leaf_paths", "tostream", "recurse", "splits", "scan", "match",
                        "inputs", "keys_unsorted_stream"})
SEARCHES = frozenset({"contains", "inside", "index", "rindex", "indices", "split", "join", "ltrimstr",
                      "rtrimstr", "trimstr", "startswith", "endswith", "has", "in"})
ONE_OUTPUT = frozenset({"first", "isempty", "last", "nth", "any", "all", "IN", "limit", "skip", "add"})
OPAQUE_CALLS = frozenset({"while", "until", "repeat", "combinations", "input", "getpath_stream", "env_stream"})
CONSTANT = frozenset({"empty", "error", "not", "true", "false", "null", "now", "input_filename", "env",
                      "builtins", "infinite", "nan", "halt", "input_line_number", "get_search_list",
                      "get_prog_origin", "get_jq_origin", "have_decnum", "have_literal_numbers", "type",
                      "length", "utf8bytelength", "isinfinite", "isnan", "isnormal", "isvalid"})


def call(name: str, args: list[Cost], raw: list[list[Tok]]) -> Cost:
    """The cost of builtin ``name`` with its arguments' costs (each evaluated on the call's input)."""
    if name in OPAQUE_CALLS:
        return OPAQUE
    if name == "range":
        return _range(raw)
    if name in ("empty", "error"):
        return Cost(plus(ONE, *(a.work for a in args)), ZERO, ZERO)
    if name in ("select",) and args:
        f = args[0]
        return Cost(plus(f.work, f.outs), f.outs, times(f.outs, SIZE_N))
    if name in ("map", "any", "all", "map_values", "with_entries", "sort_by", "group_by", "unique_by",
                "min_by", "max_by", "walk", "paths", "add") and len(args) == 1:
        over = pipe(ITERATE, args[0])  # f applied to each element (or each node, for walk and paths(f))
        return Cost(plus(over.work, over.size, SIZE_N), ONE if name not in ("paths",) else SIZE_N,
                    plus(over.size, SIZE_N))
    if name in ("any", "all") and len(args) == 2:
        return single(pipe(args[0], args[1]))
    if name == "IN" and args:
        source = args[0] if len(args) == 1 else args[0]
        other = IDENTITY if len(args) == 1 else args[1]
        pairs = binary("==", source, other)
        return single(Cost(plus(pairs.work, source.size), ONE, ONE))
    if name in ("sub", "gsub") and len(args) >= 2:
        replacement = args[1]
        if replacement.outs != ONE or any(t.kind == "op" and t.text == "," for t in raw[1]):
            return OPAQUE  # a generator replacement yields every combination: exponential in the matches
        per_match = summed(replacement.work, SIZE_N, SIZE_N)
        rest = [args[0], *args[2:]]
        base = _generic(rest, SIZE_N)
        return Cost(plus(base.work, per_match, SIZE_N), base.outs, times(base.outs, SIZE_N))
    if name == "transpose":
        return Cost(power(SIZE_N, 2), ONE, power(SIZE_N, 2))  # ragged rows are padded with nulls
    if name == "del" and args:
        f = args[0]
        return Cost(plus(f.work, times(f.outs, SIZE_N)), ONE, SIZE_N)  # each deletion may shift an array
    if name in ("first", "isempty", "last") and args:
        return single(args[-1], args[-1].size)
    if name in ("limit", "skip", "nth") and len(args) == 2:
        both = product(args[0], args[1])
        return Cost(both.work, both.outs, both.size)
    if name in ("tostream", "paths", "leaf_paths", "recurse") and not args:
        return ITERATE
    if name == "recurse":
        return OPAQUE
    if name in SEARCHES and args:
        base = _generic(args, SIZE_N)
        together = plus(*(a.size for a in args))
        return Cost(plus(base.work, times(SIZE_N, together)), base.outs, plus(base.size, times(base.outs, together)))
    if name in CONSTANT and not args:
        return LIT if name not in ("empty",) else NOTHING
    result = _generic(args, SIZE_N)
    if name in GENERATORS:
        return Cost(result.work, times(result.outs, SIZE_N), times(result.outs, SIZE_N))
    if name in ONE_OUTPUT:
        return Cost(result.work, ONE, SIZE_N)
    return result


def _generic(args: Iterable[Cost], per: Poly) -> Cost:
    """Arguments as a cartesian product, then ``per`` work on each combination (reading the input)."""
    acc = LIT
    for a in args:
        acc = product(acc, a)
    return Cost(plus(acc.work, times(acc.outs, per)), acc.outs, times(acc.outs, SIZE_N))


def _range(raw: list[list[Tok]]) -> Cost:
    values = []
    for arg in raw:
        texts = [t.text for t in arg]
        if len(arg) == 1 and arg[0].kind == "num":
            values.append(float(arg[0].text))
        elif len(arg) == 2 and texts[0] == "-" and arg[1].kind == "num":
            values.append(-float(arg[1].text))
        else:
            return OPAQUE  # a computed bound: the guard leaves such ranges unproven anyway
    if not values or len(values) > 3:
        return OPAQUE
    start, stop, step = (0.0, values[0], 1.0) if len(values) == 1 else \
        (values[0], values[1], values[2] if len(values) > 2 else 1.0)
    if step == 0:
        return OPAQUE
    count = max(0.0, (stop - start) / step)
    outs = ONE if count <= SMALL_RANGE else SIZE_VAR
    return Cost(outs, outs, outs)


PRECEDENCE = {",": 1, "//": 2, "=": 3, "|=": 3, "+=": 3, "-=": 3, "*=": 3, "/=": 3, "%=": 3, "//=": 3,
              "or": 4, "and": 5, "==": 6, "!=": 6, "<": 6, "<=": 6, ">": 6, ">=": 6, "+": 7, "-": 7,
              "*": 8, "/": 8, "%": 8}
RIGHT = frozenset({"//"})
ASSIGNMENTS = frozenset({"=", "|=", "+=", "-=", "*=", "/=", "%=", "//="})
