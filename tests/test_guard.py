"""The static checks that decide which rules run in-process: termination (loops, recursion, endless
generators refused by the loader and ``check``), cost linear in the record (``tattletail.cost``), string
repetition, and exponential regex backtracking. Their effect at run time is in ``test_engine.py``."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tattletail import commands as cli
from tattletail.backtracking import polynomial_risk, regex_risk
from tattletail.config import loader as config_module
from tattletail.engine import Engine
from tattletail.guard import analyse
from tests.helpers import BENCH, ROOT
from tests.test_engine import ALLOCATION, LOOP, QUADRATIC, RECURSION, REGEX, REPEAT, rule_toml

# ----------------------------------------------------------------------------------- the static check


@pytest.mark.parametrize("program", [
    "until(false; .)", "def f: f; f", "def f: [f]; f", "def f: 1 + f; .a | f", "last(range(1e12))",
    "[range(1e9)]", '"abc" * 1e9', "[repeat(1)]", "[while(true; .)]", "reduce range(1e10) as $x (0; . + 1)",
])
def test_guard_refuses_programs_that_can_never_end(program: str) -> None:
    verdict = analyse(program)
    assert verdict.unbounded and not verdict.proven


@pytest.mark.parametrize("program", [
    LOOP, RECURSION, ALLOCATION, REGEX, REPEAT, "until(. > 3; . + 1)", "[limit(3; repeat(.))]",
    "first(range(1e12))", "def f: .a | f; f", "recurse(.children[]?)", "reduce .[] as $x (0; . + 1)",
    ".a * .b", "[range(.n)]", "custom_function", '.a | test(.pattern)', ".. | .. | ..",
])
def test_guard_leaves_programs_that_may_end_unproven_but_accepted(program: str) -> None:
    verdict = analyse(program)
    assert verdict.unproven and not verdict.unbounded


@pytest.mark.parametrize("program", [
    'select(.eventName == "X")', '{user: .a, ip} | select(.user)', '"a \\(.x | tostring) b"',
    ". as [$a, $b] | $a", "label $out | 1, break $out", "$__loc__", "$ENV.HOME", "[range(5)]", ".a * 2",
    '@base64 "x\\(.a)"', 'select(.a | test("^(10\\\\.|172\\\\.(1[6-9]|2[0-9]|3[01])\\\\.)"))',
    ".a + .b", "path(.a.b)", '.a | getpath(["b", "c"])',
])
def test_guard_proves_ordinary_programs(program: str) -> None:
    assert analyse(program).proven, analyse(program)


@pytest.mark.parametrize(("pattern", "risky"), [
    ("(a+)+$", True), ("(a|a)*", True), ("(?:a|bc)*", True), (r"(\w+\.)*x", True), (r"(a)\1", True),
    ("(a*){2,3}", True), ("^(List|Get|Describe)", False), ("(?i)(kali|parrot)", False), (".*a.*b", False),
    ("(a|b)*", False), (r"(?:.|\n)*x", False), ("a{2,}", False), ("[(]+", False),
    # a class and a literal it holds overlap: the check must not call them disjoint
    (r"(\d|1)+$", True), (r"(\w|a)*x", True), (r"([0-9]|5)+$", True), (r"(\s| )+$", True), ("(.|a)*x", True),
    (r"(\.|a)*x", False), (r"(\n|a)*x", False), ("(?i)(a|A)+$", True), ("(?i:(x|X))+$", True),
])
def test_regex_risk_names_exponential_backtracking(pattern: str, risky: bool) -> None:
    assert (regex_risk(pattern) is not None) == risky


@pytest.mark.parametrize(("pattern", "risky"), [
    (".*a.*b", True), (r"\s+$", True), (r"(?:.|\n)*arn(?:.|\n)*$", True), ("^a.*b.*c", True),
    ("[a-z]{0,1000}x", True), (r"a|\s+$", True), ("x[a-z]*y", True), ("x[^/]*$", True),
    ("abc.*", False), ("^a.*b", False), (r"\A\s+$", False), ("V[0-9]+$", False), ('"arn:x/[^"]*"', False),
    ("^[0-9]{12}$", False), ("how[-_ .!]{0,8}to", False), (r"\.(txt|html?)$", False), ("(?i)ab+", False),
    ("(?i)K[k]+x", True),  # under case folding the literal 'K' is in the class [k]
])
def test_polynomial_risk_allows_one_unbounded_repeat_only_where_its_runs_are_disjoint(pattern: str,
                                                                                     risky: bool) -> None:
    assert (polynomial_risk(pattern) is not None) == risky, polynomial_risk(pattern)


@pytest.mark.parametrize("program", [
    "[paths] | length > 0", "[leaf_paths]", "[tostream]", "[paths(type == \"number\")]", "[path(..)]",
    "[getpath(paths)]", "[.a | tostream] | length",
])
def test_guard_leaves_path_walks_unproven_as_their_memory_is_nodes_times_depth(program: str) -> None:
    verdict = analyse(program)
    assert not verdict.proven and not verdict.unbounded, verdict
    assert any("path per node" in reason for reason in verdict.unproven), verdict


@pytest.mark.parametrize("program", [
    '.a | test(".*a.*b")', '.a | test("\\\\s+$")', '.a | gsub("a"; "b")', '[.a | match("a"; "g")] | length',
    '[.a | scan("a")]', '[.a | splits(",")]', '.a | split(","; null)', '.a | sub("a"; "b"; "g")',
    '.a | capture("(?<x>a)"; "g")', '.a | match("a"; .flags)',
    # the shipped ransom-note rule before issue 14: 1.4 s per record on a key of "ransom" * 4000
    '.k | test("(ransom|how[-_ .!]*to[-_ .!]*decrypt)[^/]*\\\\.(txt|html?|hta|md)$"; "i")',
])
def test_guard_leaves_polynomial_regexes_and_global_matching_unproven(program: str) -> None:
    verdict = analyse(program)
    assert not verdict.proven and not verdict.unbounded, verdict


@pytest.mark.parametrize("program", [
    '.a | test("V[0-9]+$")', '.a | sub("a"; "b")', '.a | split(",")', '.a | test("^a.*b"; "g")',
    '.a | match("/[^/]*$")', '.a | capture("^(?<x>[0-9]+)")',
])
def test_guard_proves_linear_regexes(program: str) -> None:
    assert analyse(program).proven, analyse(program)


@pytest.mark.parametrize(("program", "proven"), [
    ('.a | test("(a|A)+$"; "i")', False), ('.a | test("^(a|A)+$")', True), ('.a | test("^(a|B)+$"; "i")', True),
    ('.a | test("(k|\u212a)+$"; "i")', False),  # the Kelvin sign folds to k
    ('.a | sub("(s|\u017f)+"; ""; "gi")', False), ('.a | test("(a| )+$"; "x")', False),
    ('.a | test("(a|A)+$"; .flags)', False),  # computed flags may hold "i"
])
def test_guard_reads_regex_flags_for_case_folding(program: str, proven: bool) -> None:
    assert analyse(program).proven == proven, analyse(program)


# Shipped rules that run in the isolation child on purpose, and why (their cost is polynomial in the size of
# a policy document the record carries as text; only the few records of policy-setting calls reach them).
ISOLATED_ON_PURPOSE = {
    "Resource policy made public": "parses the policy (fromjson) and checks statements x conditions x values",
}


def test_every_shipped_and_benchmark_rule_is_proven_so_it_stays_in_process() -> None:
    packs = sorted((ROOT / "rules").glob("*.toml"))
    rules = [rule for pack in packs for rule in config_module.load_pack(pack)]
    rules += config_module.load(ROOT / "tattletail.toml").rules
    if BENCH.is_dir():
        rules += [rule for path in sorted(BENCH.glob("*.toml")) for rule in config_module.load(path).rules]
    assert len(rules) > 90
    unproven = {r.name: analyse(r.jq_match).unproven for r in rules if not analyse(r.jq_match).proven}
    assert set(unproven) == set(ISOLATED_ON_PURPOSE), unproven
    assert {rule.name for rule in Engine(rules).isolated} == set(ISOLATED_ON_PURPOSE)


# ----------------------------------------------------------------------------------- cost, not only termination


@pytest.mark.parametrize("program", [
    QUADRATIC, ".a[] as $x | .b[]", ".a[] == .b[]", "{x: .a[], y: .b[]}", ". as $r | .a[] | select(IN($r.b[]))",
    ".a[] | select(. as $v | any($all[]; . == $v))", "[.a[]] - [.b[]]", ".a | contains(.b)", ".a / .b",
    ".a | transpose", "del(.a[] | select(. == 1))", "if .a[] then .b[] else 1 end", '"\\(.a[]) \\(.b[])"',
    "[range(1000)] as $r | .a[] | $r[]",
])
def test_guard_leaves_quadratic_programs_unproven_so_they_run_under_the_budget(program: str) -> None:
    verdict = analyse(program)
    assert not verdict.proven and not verdict.unbounded
    assert any("work may grow as N^" in reason for reason in verdict.unproven), verdict


@pytest.mark.parametrize("program", [
    ".a[] | .b[] | .c", ".a[] as $x | $x.b", '.a | contains("x")', "[.a[]] - [.b]", '.a / ","',
    '[.a[] | tostring] | join(",")', "any(.a[]; . == 1)", '.a[] | IN("x", "y")', "map(select(.b)) | length",
    ".. | numbers", "{a: .x, b: .y[]}", "[range(10)] as $r | .a[] | $r[]",
])
def test_guard_proves_programs_linear_in_the_record(program: str) -> None:
    assert analyse(program).proven, analyse(program)


# ----------------------------------------------------------------------------------- repetition chains


@pytest.mark.parametrize("program", [
    '"x" * 100000 * 100000', '"x" * 10000 * 10000 * 10000', '("x" * 1000) * 1000 * 1000', '"ab" * 1e9',
])
def test_guard_refuses_literal_repetition_chains_building_hundreds_of_mb(program: str) -> None:
    verdict = analyse(program)
    assert verdict.unbounded and "hundreds of MB" in verdict.unbounded[0]


@pytest.mark.parametrize("program", [
    ".userAgent * 10000 * 10000", ".a * 1000", '"x" * 2000 * 1000', ".a *= 1000", "(.a * 8) | . * 8 | . * 8",
    '"x" * .n * 2',
])
def test_guard_leaves_computed_repetition_chains_unproven(program: str) -> None:
    verdict = analyse(program)
    assert not verdict.proven and not verdict.unbounded, verdict


@pytest.mark.parametrize("program", ['"x" * 10000', ".a * 2 * 2", ".a * 4 + 1", '"-" * 80'])
def test_guard_proves_small_repetitions(program: str) -> None:
    assert analyse(program).proven, analyse(program)


# ----------------------------------------------------------------------------------- constant conditions


@pytest.mark.parametrize("program", [
    "until(1 == 2; .)", "until(null // false; .)", "until(true | not; . + 1)", "select(.a) | until((false); .)",
    "while(true; .) | select(.a)", "repeat(.) | select(.eventName == \"X\")", "[while(1 < 2; . + 1)]",
    "last(repeat(1))", "reduce while(true; .) as $x (0; .)", "recurse(.) | empty", "[recurse(.; true)]",
])
def test_guard_refuses_loops_whose_constant_condition_never_lets_them_end(program: str) -> None:
    assert analyse(program).unbounded, analyse(program)


@pytest.mark.parametrize("program", [
    "until(0; .)", 'until(""; .)', "until(false; error(\"stop\"))", "first(repeat(.))", "[repeat(empty)]",
    "while(true; .)", "[limit(3; while(true; .))]", "until(1 == 1; . + 1)",
])
def test_guard_accepts_loops_that_end_with_a_constant_condition(program: str) -> None:
    """``0`` and ``""`` are true in jq: ``until(0; .)`` ends at once; an update that errors ends too."""
    assert not analyse(program).unbounded, analyse(program)


def test_check_refuses_a_constant_false_until(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text(rule_toml("Never", 'select(.eventName == "X") | until(1 == 2; .)'))
    err = io.StringIO()
    assert cli.main(["check", str(path)], io.StringIO(), err) == 1
    assert "jq_match can never end: until(1 == 2; ...) never ends: its condition is always false" in err.getvalue()
