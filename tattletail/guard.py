"""Static termination check of jq programs: which rules may run in the Lambda's own process.

A jq rule runs on records that an attacker partly writes (request parameters, user agents, names), and
libjq cannot be interrupted: a rule that loops, recurses or allocates without bound on one record would
hang the invocation or, when libjq's allocator gives up, ``abort()`` the whole process. So every program
is judged here, once, when the engine is built:

``proven``
    Provably terminating, with a cost at most linear in the record's size: no ``def``, no
    ``reduce``/``foreach``, no looping builtin (``while``, ``until``, ``repeat``, ``recurse(f)``),
    ``range`` only with small constant bounds, string repetition only by small constants (per chain,
    ``tattletail.repetition``), regular expressions without nested or overlapping alternated repeats
    (exponential backtracking) nor polynomial backtracking (two unbounded repeats, or one followed by
    more pattern where the runs scanned from different start positions may overlap: ``\\s+$``;
    ``tattletail.backtracking``), no global matching (``gsub``, ``scan``, ``splits``, ``split/2``, the
    ``g`` flag: libjq's is quadratic in the number of matches), few whole-record traversals (``..``,
    ``paths``, ``walk``), few doublings of computed values (additions, repetitions), only builtins
    known to terminate, and work of degree 1 in the record's size by ``tattletail.cost``: iterations
    nested through an ``as`` binding, a variable or a cartesian operator (``.a[] as $x | .b[]``,
    ``.a[] == .b[]``) are quadratic and so not proven. These rules run in-process (compiled Python
    or the combined libjq program): every rule of the shipped packs and benchmark sets is proven.
``unproven``
    Anything else, with the reasons. The engine evaluates such rules in a child process under a
    wall-clock budget (``tattletail.sandbox``). Unproven is not wrong: ``until(. > 3; . + 1)`` ends.
``unbounded``
    Constructs that, once reached, cannot end: ``until`` with a constant false condition
    (``until(false; ...)``, ``until(1 == 2; ...)``; jq holds ``0`` true, so ``until(0; .)`` ends), a
    ``def`` that calls itself with no way out (``def f: f;``, ``def f: [f];``), an endless generator
    collected whole (``[repeat(.)]``, ``last(range(1e12))``) or repeating one value into ``select``, a
    string literal repeated into hundreds of MB. The loader refuses them as it refuses a program that
    does not compile (see ``problems``), and so does ``tattletail check``.

Why a token-level analysis rather than ``jq.parse``'s AST: libjq rules are precisely those the compiled
subset's parser refuses (``def``, ``as``, ``reduce``...), so the check must read all of jq. It does so
conservatively: whatever it cannot read or judge is *unproven*, never *proven*, and only unmistakable
patterns are *unbounded*, so a sensible rule is never refused.

The threat is a careless rule meeting a hostile record, not a hostile rule author (who could as well
write a rule that never matches): a program crafted against this check, such as a long chain of
size-doubling steps, may pass as proven.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

from tattletail.backtracking import polynomial_risk, regex_risk
from tattletail.cost import UNKNOWN_DEGREE
from tattletail.costparse import work_degree
from tattletail.jqtokens import Tok, Unreadable, call_args, close, tokenize
from tattletail.repetition import repetition

RANGE_LIMIT = 100_000          # outputs of one constant range still proven
RANGE_PRODUCT_LIMIT = 1_000_000
TRAVERSAL_LIMIT = 2            # .., paths, walk... more than this may multiply into a high-degree polynomial
GROWTH_LIMIT = 6               # additions of two computed values (each may double a size): 2**6 times the record
ENDLESS_COUNT = 1e9            # a constant range this long never ends within any budget

def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# jq 1.8's builtins that end on any finite input in time polynomial in its size (regex ones are checked
# for backtracking separately). Deliberately written out: a new builtin is unproven until judged.
TERMINATING = _words("""
IN INDEX JOIN abs acos acosh add all any arrays ascii ascii_downcase ascii_upcase asin asinh atan atan2 atanh
booleans bsearch builtins cbrt ceil contains copysign cos cosh debug del delpaths drem empty endswith env
erf erfc error exp exp10 exp2 explode expm1 fabs fdim finites first flatten floor fma fmax fmin fmod format
frexp from_entries fromdate fromdateiso8601 fromjson fromstream gamma get_jq_origin get_prog_origin
get_search_list getpath gmtime group_by halt halt_error has have_decnum have_literal_numbers hypot implode
in index indices infinite input input_filename input_line_number inputs inside isempty isfinite isinfinite
isnan isnormal isvalid iterables join keys keys_unsorted last ldexp leaf_paths length lgamma lgamma_r limit
localtime log log10 log1p log2 logb ltrim ltrimstr map map_values max max_by min min_by mktime modf nan
nearbyint nextafter nexttoward normals not now nth nulls numbers objects path paths pick pow recurse
remainder reverse rindex rint round rtrim rtrimstr scalars scalb scalbln select setpath significand sin
sinh skip sort sort_by splits sqrt startswith stderr strflocaltime strftime strings strptime tan tanh
tgamma to_entries toarray toboolean todate todateiso8601 tojson tonumber tostream tostring transpose trim
trimstr trunc truncate_stream type unique unique_by utf8bytelength values walk with_entries
test match capture scan split sub gsub
""")
# outputs one path per node of what they walk, each as long as the node is deep: memory nodes x depth
# (``[paths] | length`` took 220-417 MB on one 254 KiB record), beyond the cost model's linear reading
PATH_WALKS = frozenset({"paths", "leaf_paths", "tostream"})
REGEX_BUILTINS = frozenset({"test", "match", "capture", "scan", "split", "splits", "sub", "gsub"})
LOOPING = {"while": "while", "until": "until", "repeat": "repeat", "combinations": "combinations"}
TRAVERSALS = frozenset({"..", "paths", "leaf_paths", "tostream", "walk", "recurse"})
KEYWORDS = frozenset({"if", "then", "elif", "else", "end", "as", "def", "reduce", "foreach", "try", "catch",
                      "label", "import", "include", "and", "or", "__loc__", "break", "true", "false", "null"})

@dataclass(frozen=True)
class Verdict:
    """What the check found: ``unproven`` reasons (empty: proven) and ``unbounded`` reasons."""

    unproven: tuple[str, ...] = ()
    unbounded: tuple[str, ...] = ()

    @property
    def proven(self) -> bool:
        return not self.unproven and not self.unbounded


def _constant(arg: list[Tok]) -> float | None:
    """A numeric literal argument (maybe negative), else ``None``."""
    if len(arg) == 1 and arg[0].kind == "num":
        return float(arg[0].text)
    if len(arg) == 2 and arg[0].text == "-" and arg[1].kind == "num":
        return -float(arg[1].text)
    if len(arg) == 1 and arg[0].text == "infinite":
        return float("inf")
    return None


def _range_count(args: list[list[Tok]]) -> float | None:
    """How many outputs a constant ``range`` gives (``None``: not constant or not finite)."""
    values = [_constant(a) for a in args]
    if not values or any(v is None for v in values):
        return None
    nums = [v for v in values if v is not None]
    start, stop, step = (0.0, nums[0], 1.0) if len(nums) == 1 else (nums[0], nums[1], nums[2] if len(nums) > 2 else 1.0)
    if step == 0 or step != step or stop != stop:
        return float("inf") if step == 0 and stop > start else None
    return max(0.0, (stop - start) / step)


def _is_key(tokens: list[Tok], i: int, stack: list[str]) -> bool:
    """An identifier in key position of an object construction (``{user: .a}``, ``{user}``)."""
    return bool(stack) and stack[-1] == "{" and i > 0 and tokens[i - 1].text in ("{", ",") \
        and i + 1 < len(tokens) and tokens[i + 1].text in (":", ",", "}")


@dataclass
class _Def:
    name: str
    params: set[str]
    start: int   # first token of the body
    end: int     # the ';' closing it


def _defs(tokens: list[Tok]) -> list[_Def]:
    """Every ``def name(params): body;`` with the token span of its body."""
    found: list[_Def] = []

    def read(i: int) -> int:  # tokens[i] is "def"; returns the index after its closing ';'
        if i + 1 >= len(tokens) or tokens[i + 1].kind != "ident":
            raise Unreadable("def without a name")
        name, j, params = tokens[i + 1].text, i + 2, set()
        if j < len(tokens) and tokens[j].text == "(":
            end = close(tokens, j)
            params = {t.text.lstrip("$") for t in tokens[j + 1:end] if t.kind in ("ident", "var")}
            j = end + 1
        if j >= len(tokens) or tokens[j].text != ":":
            raise Unreadable("def without ':'")
        start, depth, k = j + 1, 0, j + 1
        while k < len(tokens):
            tok = tokens[k]
            if tok.kind == "ident" and tok.text == "def":
                k = read(k)
                continue
            if tok.kind == "op" and tok.text in "([{":
                depth += 1
            elif tok.kind == "op" and tok.text in ")]}":
                depth -= 1
            elif tok.kind == "op" and tok.text == ";" and depth == 0:
                found.append(_Def(name, params, start, k))
                return k + 1
            k += 1
        raise Unreadable(f"def {name} is not closed by ';'")

    i = 0
    while i < len(tokens):
        i = read(i) if tokens[i].kind == "ident" and tokens[i].text == "def" else i + 1
    return found


# tokens through which a recursive call is always reached: no branch, no iteration, no output first
_NO_EXIT = frozenset({".", "|", "(", ")", "+", "-", "*", "/", "%", "[", "]", ";"})


def _recursion(tokens: list[Tok], d: _Def) -> tuple[bool, bool]:
    """(calls itself, always reaches that call before any way out)."""
    body = tokens[d.start:d.end]
    calls = any(t.kind == "ident" and t.text == d.name and (k == 0 or body[k - 1].text != "def")
                for k, t in enumerate(body))
    if not calls:
        return False, False
    for k, t in enumerate(body):
        if t.kind in ("num", "str") or (t.kind == "ident" and t.text == d.name):
            continue
        if t.kind != "op" or t.text not in _NO_EXIT:
            return True, False
        if t.text == "[" and k > 0 and (body[k - 1].text in (".", "]", ")") or body[k - 1].kind == "field"):
            return True, False  # .[...] indexes or iterates: it may be empty or fail, a way out
    return True, True


@lru_cache(maxsize=2048)
def analyse(program: str) -> Verdict:
    """The verdict on one jq program (cached: the loader, the engine and ``check`` all ask)."""
    try:
        tokens = tokenize(program)
        return _analyse(tokens)
    except (Unreadable, RecursionError, ValueError) as exc:
        return Verdict(unproven=(f"not read by the termination check: {exc}",))


def _analyse(tokens: list[Tok]) -> Verdict:
    unproven: list[str] = []
    never: list[str] = []
    defs = _defs(tokens)
    names = {d.name for d in defs} | {p for d in defs for p in d.params}
    for d in defs:
        recursive, always = _recursion(tokens, d)
        if always:
            never.append(f"def {d.name} calls itself with no way out: it recurses without end")
        elif recursive:
            unproven.append(f"recursive def {d.name}")
    if defs:
        unproven.append("def (a function called many times can multiply the work)")
    stack: list[str] = []
    range_product, traversals, growth = 1.0, 0, 0
    for i, tok in enumerate(tokens):
        prev = tokens[i - 1] if i > 0 else None
        if tok.kind == "op":
            if tok.text in "([{":
                stack.append(tok.text)
            elif tok.text in ")]}" and stack:
                stack.pop()
            elif tok.text == "..":
                traversals += 1
            elif tok.text in ("*", "*="):
                growth += repetition(tokens, i, unproven, never)
            elif tok.text in ("+", "+=") and prev is not None and i + 1 < len(tokens) \
                    and prev.kind not in ("num", "str") and tokens[i + 1].kind not in ("num", "str"):
                growth += 1
            continue
        if tok.kind != "ident" or _is_key(tokens, i, stack) or (prev is not None and prev.text == "def"):
            continue
        name, args = tok.text, call_args(tokens, i)
        collected = prev is not None and prev.text in ("[", "reduce", "foreach") \
            or (i >= 2 and prev is not None and prev.text == "(" and tokens[i - 2].text in ("last", "add"))
        if name in ("reduce", "foreach"):
            unproven.append(name)
        elif name in ("import", "include"):
            unproven.append(f"{name} (a module the check cannot see)")
        elif name in KEYWORDS or name in names:
            continue
        elif name in LOOPING:
            unproven.append(LOOPING[name])
            _endless(tokens, i, name, args, collected, never)
        elif name == "recurse" and args:
            unproven.append("recurse(f)")
            if [t.text for t in args[0]] == ["."] and (len(args) == 1 or _truth(args[1]) is True):
                _endless(tokens, i, "recurse", args[:1], collected, never)
        elif name == "range":
            count = _range_count(args)
            if count is None or count > RANGE_LIMIT:
                unproven.append("range with a computed or large bound")
            if count is not None and count >= ENDLESS_COUNT and collected:
                never.append(f"collects range of {count:.3g} outputs: it cannot end in any budget")
            range_product *= count if count is not None else float("inf")
        elif name in PATH_WALKS or (name in ("path", "paths", "getpath", "pick") and any(
                t.text in ("..", "recurse", *PATH_WALKS) for arg in args for t in arg)):
            unproven.append(f"{name} builds a path per node walked (memory nodes x depth)")
        elif name in REGEX_BUILTINS:
            pattern = args[0] if args else []
            if len(pattern) != 1 or pattern[0].kind != "str":
                unproven.append(f"{name} with a computed regular expression")
            elif (risk := regex_risk(pattern[0].text, _flags(name, args))
                    or polynomial_risk(pattern[0].text, _flags(name, args))) is not None:
                unproven.append(f"{name}({pattern[0].text!r}): {risk}")
            if _global(name, args):
                unproven.append(f"{name} with every match (libjq's global matching is quadratic in the"
                                " number of matches)")
        elif name not in TERMINATING:
            unproven.append(f"{name} (not known to terminate)")
        if name in TRAVERSALS and (name != "recurse" or not args):
            traversals += 1
    if range_product > RANGE_PRODUCT_LIMIT and not any(r.startswith("range") for r in unproven):
        unproven.append("ranges whose product is large")
    if traversals > TRAVERSAL_LIMIT:
        unproven.append(f"{traversals} whole-record traversals")
    if growth > GROWTH_LIMIT:
        unproven.append(f"{growth} doublings of computed values (additions, repetitions): sizes may grow"
                        f" {2 ** growth:g} times")
    _cost(tokens, unproven)
    return Verdict(tuple(dict.fromkeys(unproven)), tuple(dict.fromkeys(never)))


def _cost(tokens: list[Tok], unproven: list[str]) -> None:
    """Proven also means linear in cost (``tattletail.cost``): libjq cannot be stopped in-process."""
    try:
        found = work_degree(tokens)
    except (Unreadable, RecursionError) as exc:
        unproven.append(f"not read by the cost check: {exc}")
        return
    if 2 <= found < UNKNOWN_DEGREE:
        unproven.append(f"work may grow as N^{found} with the record's size N (iterations nested through a "
                        "variable, an 'as' binding or a product of generators)")
    elif found >= UNKNOWN_DEGREE and not unproven:
        unproven.append("a cost the check cannot bound")


def _global(name: str, args: list[list[Tok]]) -> bool:
    """Whether a regex builtin collects every match: libjq's ``f_match`` with ``"g"`` appends each match
    to a copied array, so ``gsub``, ``scan``, ``splits``, ``split/2`` and ``match``/``capture``/``sub``
    with the ``g`` flag cost time quadratic in the number of matches."""
    if name in ("gsub", "scan", "splits") or (name == "split" and len(args) == 2):
        return True
    if name in ("match", "capture", "sub", "test"):
        flags = _flags(name, args)
        return name != "test" and (flags is None or "g" in flags)
    return False


def _flags(name: str, args: list[list[Tok]]) -> str | None:
    """A regex builtin's literal flags (``""`` when none are given; ``None`` when they are computed)."""
    arg = args[2] if name in ("sub", "gsub") and len(args) > 2 else args[1] if len(args) > 1 and name not in (
        "sub", "gsub") else None
    if arg is None:
        return ""
    return arg[0].text if len(arg) == 1 and arg[0].kind == "str" else None


def _endless(tokens: list[Tok], i: int, name: str, args: list[list[Tok]], collected: bool,
             never: list[str]) -> None:
    """The loops that provably never end once reached (``until``, ``while``, ``repeat`` at ``i``):
    ``until`` whose condition is a constant that is false (``false``, ``null``, ``1 == 2``; note that
    ``0`` and ``""`` are true in jq, so ``until(0; .)`` ends at once); an endless generator (``repeat``,
    ``while`` with a constant true condition) collected whole; and one that repeats the same value
    (update ``.``) into ``select``/``empty``, which on a record they reject never outputs nor ends.
    An update that may stop the loop (``error``, ``empty``, ``halt``, ``break``) proves nothing."""
    update = args[-1] if args else []
    if any(t.kind == "ident" and t.text in ("error", "empty", "halt", "halt_error", "break", "select")
           for t in update):
        return
    cond = " ".join(t.text for t in args[0]) if args and name in ("until", "while") else ""
    if name == "until" and len(args) == 2 and _truth(args[0]) is False:
        never.append(f"until({cond}; ...) never ends: its condition is always false")
        return
    endless = name in ("repeat", "recurse") or (name == "while" and len(args) == 2 and _truth(args[0]) is True)
    if not endless:
        return
    if collected:
        never.append(f"collects {name}(...), an endless generator")
        return
    end = close(tokens, i + 1) if i + 1 < len(tokens) and tokens[i + 1].text == "(" else i
    after = [t.text for t in tokens[end + 1:end + 3]]
    if [t.text for t in update] == ["."] and after[:1] == ["|"] and after[1:] in (["select"], ["empty"]):
        never.append(f"{name}(...) repeats the same value into {after[1]}: on a record it rejects, it never ends")


_CONSTANT_WORDS = frozenset({"true", "false", "null", "not", "and", "or"})
_CONSTANT_OPS = frozenset({"==", "!=", "<", "<=", ">", ">=", "(", ")", "|", "//", "+", "-"})


def _truth(arg: list[Tok]) -> bool | None:
    """Whether a constant expression (literals, comparisons, ``and``/``or``/``not``) is true as jq
    judges it (only ``false`` and ``null`` are false); ``None`` when it is not constant or not one value."""
    if not arg or not all(t.kind in ("num", "str") or (t.kind == "ident" and t.text in _CONSTANT_WORDS)
                          or (t.kind == "op" and t.text in _CONSTANT_OPS) for t in arg):
        return None
    text = " ".join(json.dumps(t.text) if t.kind == "str" else t.text for t in arg)
    try:
        import jq

        outputs = jq.compile(text).input_value(None).all()
    except Exception:  # noqa: BLE001 - not an expression jq reads alone: nothing proven
        return None
    return not (outputs[0] is None or outputs[0] is False) if len(outputs) == 1 else None


def problems(program: str) -> list[str]:
    """What the loader refuses in a program: the constructs that never end once reached."""
    return list(analyse(program).unbounded)
