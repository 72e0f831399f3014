from __future__ import annotations

import pytest

from tattletail.engine import Engine
from tattletail.errors import RuleRuntimeError
from tattletail.rules import Rule

RECORD = {"eventName": "CreateUser", "eventID": "e-1", "requestParameters": {"userName": "u1"}, "n": 1}


def first(program: str, record: dict = RECORD):
    return Rule.compiled("r", program).match(record)


@pytest.mark.parametrize("program", ["empty", "null", "false", 'select(.eventName == "Other")', "false, true"])
def test_no_output_null_or_false_is_no_match(program: str) -> None:
    assert first(program) is None


@pytest.mark.parametrize("program", ["true", ".", 'select(.eventName == "CreateUser")', ". + {}"])
def test_true_or_the_record_itself_is_a_match_without_annotation(program: str) -> None:
    match = first(program)
    assert match is not None and match.annotation is None


def test_other_values_annotate_the_match() -> None:
    match = first('select(.eventName == "CreateUser") | "username: \\(.requestParameters.userName)"')
    assert match is not None and match.annotation == "username: u1" and match.value == "username: u1"


def test_only_the_first_output_counts() -> None:
    assert first('.requestParameters.userName, "second"').annotation == "u1"
    assert first("null, true") is None  # the first output is null: no match, as in the Go tool


def test_error_after_the_first_output_is_not_raised() -> None:
    assert first('"ok", error("later")').annotation == "ok"


def test_runtime_error_raises_rule_runtime_error() -> None:
    with pytest.raises(RuleRuntimeError, match="cannot be matched"):
        first(".missing | test(\"x\")")


def test_rule_error_does_not_stop_other_rules() -> None:
    rules = [Rule.compiled("bad", '.missing | test("x")'), Rule.compiled("good", '.eventName == "CreateUser"')]
    errors = []
    matches = Engine(rules, on_error=lambda rule, rec, msg: errors.append((rule.name, rec["eventID"], msg))).evaluate(
        RECORD)
    assert [m.rule.name for m in matches] == ["good"]
    assert errors == [("bad", "e-1", "null (null) cannot be matched, as it is not a string")]


def test_engine_matches_rule_by_rule_evaluation_on_tricky_programs() -> None:
    programs = [
        "def f: .n; select(f == 1) # a trailing comment\n",
        '.eventName | ascii_downcase',
        'error({"custom": 1})',
        "[.n, .n]",
        'select(.n == 1) | .requestParameters',
        "halt_error",
        '.requestParameters.userName | startswith("u")',
    ]
    rules = [Rule.compiled(f"r{i}", p) for i, p in enumerate(programs)]
    engine_errors: list[str] = []
    got = Engine(rules, on_error=lambda r, rec, m: engine_errors.append(r.name)).evaluate(RECORD)
    expected = []
    expected_errors = []
    for rule in rules:
        try:
            match = rule.match(RECORD)
        except RuleRuntimeError:
            expected_errors.append(rule.name)
            continue
        if match:
            expected.append((rule.name, match.value, match.annotation))
    assert [(m.rule.name, m.value, m.annotation) for m in got] == expected
    assert engine_errors == expected_errors == ["r2"]  # halt_error ends the program: no output, no match
