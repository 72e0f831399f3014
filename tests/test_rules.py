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


@pytest.mark.parametrize("comment", ["# e.g. C:\\tools\\curl\\", "# odd \\\\\\", "# cr \\\r", "# crlf \\\r\n"])
def test_a_rule_ending_in_a_backslash_comment_matches_on_every_path(comment: str) -> None:
    """jq 1.8 continues a ``#`` comment after a backslash: wrapped for libjq, the rule must not swallow
    its wrapper (non-ASCII under ``"i"`` sends the compiled path to libjq, a big int the combined one)."""
    from tattletail.engine import combined_program
    from tattletail.rules import compile_jq

    program = f'select(.eventName == "ConsoleLogin" and (.userAgent | test("curl"; "i"))) {comment}'
    rule = Rule.compiled("curl console", program)
    compile_jq(combined_program([rule]))  # the combined program compiles: no one-by-one detour
    for record in ({"eventName": "ConsoleLogin", "userAgent": "curl/8.0"},
                   {"eventName": "ConsoleLogin", "userAgent": "curl/8.0 (Jos\u00e9's laptop)"},
                   {"eventName": "ConsoleLogin", "userAgent": "CURL", "n": 2**60 + 1}):
        match = rule.match(record)
        assert match is not None and match.annotation is None
        for compiled in (True, False):
            errors: list[str] = []
            got = Engine([rule], compiled=compiled).evaluate(
                record, on_error=lambda r, rec, m, errors=errors: errors.append(m))
            assert (len(got), errors) == (1, []), (compiled, record)


def test_a_wrapper_that_does_not_compile_falls_back_to_the_rule_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    from tattletail import rules as rules_module

    monkeypatch.setattr(rules_module, "code_program", lambda program: "(")
    assert first('select(.eventName == "CreateUser")').annotation is None
    assert first(".requestParameters.userName").annotation == "u1"
    assert first('select(.eventName == "Other")') is None
    with pytest.raises(RuleRuntimeError, match="cannot be matched"):
        first('.missing | test("x")')
    # the compiled path hands a non-ASCII subject under "i" to libjq: still answered, never an error
    rule = Rule("r", 'select(.userAgent | test("curl"; "i"))')
    errors: list[str] = []
    assert len(Engine([rule]).evaluate({"userAgent": "CURL \u00e9"}, on_error=lambda r, x, m: errors.append(m))) == 1
    assert errors == []


@pytest.mark.parametrize("extra", [{"big": 2**60 + 1}, {"inf": float("inf")}, {"s": "x\ud800"}, {"nan": float("nan")}])
def test_the_record_itself_is_decided_by_jq_even_when_libjq_changes_its_values(extra: dict) -> None:
    """A plain ``select`` gives the record itself: no annotation, on ``Rule.match`` and on the engine's
    one-by-one fallback (forced by a rule that halts the combined program) as on the other paths."""
    record = {**RECORD, **extra}
    rule = Rule.compiled("s", 'select(.eventName == "CreateUser")')
    expected = [("s", record, None)]
    match = rule.match(record)
    assert match is not None and (match.rule.name, match.value, match.annotation) == expected[0]
    for compiled in (True, False):
        for rules in ([rule], [Rule.compiled("h", "halt_error"), rule]):
            got = Engine(rules, compiled=compiled).evaluate(record)
            assert [(m.rule.name, m.value, m.annotation) for m in got] == expected, (compiled, len(rules))


@pytest.mark.parametrize(("program", "annotation"), [("0", 0), (".n - 1", 0), ('""', ""), ("[]", []), ("{}", {})])
def test_falsy_python_values_other_than_null_and_false_annotate_a_match(program: str, annotation: object) -> None:
    match = first(program)
    assert match is not None and match.annotation == annotation and type(match.annotation) is type(annotation)
    for compiled in (True, False):
        got = Engine([Rule.compiled("r", program)], compiled=compiled).evaluate(RECORD)
        assert [(m.annotation, type(m.annotation)) for m in got] == [(annotation, type(annotation))]
