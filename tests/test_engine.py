"""Every rule evaluation is bounded: runaway rules (loops, recursion, allocation, backtracking regexes)
are stopped, reported and disabled, the good rules beside them still deliver, libjq's aborts never take
the process down, and the loader refuses what can never end."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from tattletail import commands as cli
from tattletail import handler
from tattletail.config import current
from tattletail.config import loader as config_module
from tattletail.engine import Engine, isolation_notes
from tattletail.errors import ConfigError
from tattletail.rules import Rule
from tests.helpers import ROOT, FakeSlack, log_bytes, s3_event

MB = 1 << 20

# Rules the loader accepts (they can end) that run away on hostile records.
LOOP = "select(.requestParameters.count != null) | .requestParameters.count | until(. == 0; . - 1) | . == 0"
RECURSION = ("def depth: if . == 0 then 0 else (. - 1 | depth) + 1 end;"
             " select(.requestParameters.count != null) | .requestParameters.count | depth | . > 100")
ALLOCATION = "select(.requestParameters.size != null) | [range(.requestParameters.size)] | length > 5"
REGEX = 'select(.userAgent | test("^(a+)+$"))'
REPEAT = 'select(.requestParameters.size != null) | ("ab" * .requestParameters.size | length) > 5'
RUNAWAY = {"Loop": LOOP, "Recursion": RECURSION, "Allocation": ALLOCATION, "Backtracking": REGEX}


def record(n: int, name: str = "PutObject", **extra: Any) -> dict[str, Any]:
    return {"eventVersion": "1.08", "eventID": f"ev-{n}", "eventTime": "2026-11-20T10:00:00Z",
            "eventSource": "iam.amazonaws.com", "eventName": name, "awsRegion": "us-east-1",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/alice"},
            "userAgent": "aws-cli/2.0", "requestParameters": {"userName": f"user{n}"}, **extra}


def hostile(n: int) -> dict[str, Any]:
    """A record on which every runaway rule runs away (a count that never reaches 0, a huge size, a user
    agent that makes the regex backtrack), and that the good rules must still match."""
    return record(n, "CreateUser", userAgent="a" * 3000 + "!",
                  requestParameters={"userName": f"user{n}", "count": 0.5, "size": 1e9})


def good_rules() -> list[Rule]:
    return [
        Rule.compiled("Create User", 'select(.eventName == "CreateUser") | "user: \\(.requestParameters.userName)"'),
        # outside the compiled subset: libjq, in-process (proven)
        Rule.compiled("Create User (libjq)", '.eventName as $n | select($n == "CreateUser") | true'),
        # unproven but fine: isolated, and still matching
        Rule.compiled("Counted", "select(.eventName == \"CreateUser\") | (.requestParameters.userName | length)"
                                 " as $l | [limit($l; repeat(1))] | length > 0"),
    ]


def test_overlapping_alternation_rule_is_isolated_and_stopped_not_run_in_process() -> None:
    """``(\\d|1)+$`` on a long run of digits backtracks for seconds: the engine must send it to the child,
    where it is stopped by the budget (or Oniguruma's retry limit) and reported with the event ID."""
    rule = Rule.compiled("Digits", 'select(.userAgent | test("^(\\\\d|1)+$"))')
    errors = Errors()
    engine = Engine([rule, *good_rules()], budget=0.3, on_error=errors)
    try:
        assert engine.isolated[0] is rule
        found = [m.rule.name for m in engine.evaluate(record(1, "CreateUser", userAgent="1" * 40 + "!"))]
    finally:
        engine.close()
    assert found == ["Create User", "Create User (libjq)", "Counted"]
    assert [event for _, event, _ in errors.seen] == ["ev-1"]


# ----------------------------------------------------------------------------------- the loader, check


def rule_toml(name: str, program: str, **extra: str) -> str:
    lines = [f"[[rule]]\nname = {json.dumps(name)}\njq_match = '''{program}'''"]
    lines += [f"{key} = '''{value}'''" for key, value in extra.items()]
    return "\n".join(lines) + "\n"


def test_loader_refuses_rules_that_can_never_end_naming_rule_and_construct() -> None:
    text = (rule_toml("Loop", "select(.a) | until(false; .)") + rule_toml("Recursion", "def f: [f]; f")
            + rule_toml("Title", ".a", title='"x" * 1e9'))
    with pytest.raises(ConfigError) as info:
        config_module.loads(text, "t.toml")
    assert info.value.problems == [
        "t.toml: rule 'Loop': jq_match can never end: until(false; ...) never ends: its condition is always false",
        "t.toml: rule 'Recursion': jq_match can never end: def f calls itself with no way out: it recurses"
        " without end",
        "t.toml: rule 'Title': title can never end: repeats a string 1e+09 times: hundreds of MB at least",
    ]


def test_loader_accepts_unproven_rules_and_check_notes_they_run_isolated(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text(rule_toml("Loop", LOOP) + rule_toml("Plain", 'select(.eventName == "X")'))
    config = config_module.load(path)
    notes = isolation_notes(config.rules)
    assert len(notes) == 1 and notes[0].startswith("rule 'Loop': not proven to terminate (until)")
    out = io.StringIO()
    assert cli.main(["check", str(path)], out, io.StringIO()) == 0
    assert "note: rule 'Loop': not proven to terminate (until)" in out.getvalue()
    path.write_text(rule_toml("Never", "until(false; .)"))
    err = io.StringIO()
    assert cli.main(["check", str(path)], io.StringIO(), err) == 1
    assert "jq_match can never end: until(false; ...) never ends" in err.getvalue()


# ----------------------------------------------------------------------------------- the engine


class Errors:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None, str]] = []

    def __call__(self, rule: Rule, rec: dict[str, Any], message: str) -> None:
        self.seen.append((rule.name, rec.get("eventID"), message))

    def of(self, name: str) -> list[tuple[str | None, str]]:
        return [(event, message) for rule, event, message in self.seen if rule == name]


def assert_stopped_every_time(name: str, reports: list[tuple[str | None, str]], hostile_ids: list[str]) -> None:
    """The rule was stopped on each hostile record and reported with its event ID, every time: it is never
    disabled. The backtracking regex may instead fail in time on a record, by Oniguruma's own retry
    limit, which is a runtime error like any other and no overrun (which comes first depends on the
    machine)."""
    assert [event for event, _ in reports] == hostile_ids, reports
    for event, message in reports:
        assert f"evaluation stopped on event {event}" in message \
            or (name == "Backtracking" and "retry-limit-in-match" in message), message


def test_runaway_rules_are_stopped_and_reported_on_every_record_while_good_rules_match(caplog) -> None:
    bad = [Rule.compiled(name, program) for name, program in RUNAWAY.items()]
    rules = good_rules() + bad
    errors = Errors()
    engine = Engine(rules, budget=0.5, on_error=errors)
    try:
        assert [r.name for r in engine.isolated] == ["Counted", *RUNAWAY]
        records = [hostile(n) for n in range(5)] + [record(9, "CreateUser")]
        with caplog.at_level(logging.INFO, logger="tattletail"):
            found = [[m.rule.name for m in engine.evaluate(r)] for r in records]
    finally:
        engine.close()
    assert found == [["Create User", "Create User (libjq)", "Counted"]] * 6
    for name in ("Loop", "Recursion", "Allocation"):
        reports = errors.of(name)
        assert_stopped_every_time(name, reports, [f"ev-{n}" for n in range(5)])
        budgets = [message.split("(budget ")[1].split(" s per record")[0] for _, message in reports]
        assert budgets == ["0.5", "0.5", "0.5", "0.25", "0.125"]  # halved after the third, never off
        assert "overrun 5 in this object; the rule stays on, with 0.0625 s per record from now" in reports[-1][1]
    assert_stopped_every_time("Backtracking", errors.of("Backtracking"), [f"ev-{n}" for n in range(5)])
    strained = [json.loads(r.getMessage()) for r in caplog.records if '"rule_strained"' in r.getMessage()]
    assert {d["rule"] for d in strained} >= {"Loop", "Recursion", "Allocation"}
    assert all(d["budget_seconds"] == 0.5 and d["strained_budget_seconds"] == 0.05 and d["last_event_id"] == "ev-2"
               for d in strained if d["rule"] != "Backtracking")


def test_a_hostile_file_cannot_buy_silence_for_the_records_after_its_overruns(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Crafted records trip the rule's overruns; the records after them are still evaluated by it (the
    rule stays on, with a budget that shrinks to a floor still far above what an answer takes; the
    floor is raised here so that a loaded test machine cannot make the good answer late)."""
    from tattletail import engine as engine_module

    monkeypatch.setattr(engine_module, "STRAINED_BUDGET", 0.5)
    errors = Errors()
    engine = Engine([Rule.compiled("Loop", LOOP)], budget=1.0, on_error=errors)
    counted = record(99, "CreateUser", requestParameters={"userName": "u", "count": 3})
    try:
        found = [[m.rule.name for m in engine.evaluate(r)] for r in [*(hostile(n) for n in range(5)), counted]]
        assert engine.budget_of(0) == 0.5
    finally:
        engine.close()
    assert found == [[]] * 5 + [["Loop"]]
    reports = errors.of("Loop")
    assert [event for event, _ in reports] == [f"ev-{n}" for n in range(5)]
    assert [message.split("(budget ")[1].split(" s")[0] for _, message in reports] == ["1", "1", "1", "0.5", "0.5"]


def test_a_new_object_handler_starts_a_new_count() -> None:
    engine = Engine([Rule.compiled("Loop", LOOP)], budget=0.2)
    try:
        first, second = Errors(), Errors()
        for n in range(4):
            engine.evaluate(hostile(n), first)
        assert engine.budget_of(0) == 0.05
        engine.evaluate(hostile(5), second)  # pipeline.evaluate passes a new handler per object
    finally:
        engine.close()
    assert len(first.seen) == 4 and len(second.seen) == 1
    assert "budget 0.2 s per record" in second.seen[0][2]


def test_recursion_that_aborts_libjq_in_process_only_kills_the_child() -> None:
    program = "def f: [f]; .requestParameters | f"
    limit = 256 * MB
    # in-process, this rule takes the whole interpreter down (libjq calls abort())
    code = (f"import resource; resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}));"
            f"from tattletail.rules import Rule; Rule('r', {program!r}).match({{'requestParameters': 1}})")
    died = subprocess.run([sys.executable, "-c", code], capture_output=True, cwd=ROOT, timeout=120)
    assert died.returncode < 0 and b"cannot allocate memory" in died.stderr
    # through the engine, the child dies instead, is restarted, and the other rules go on
    errors = Errors()
    engine = Engine([Rule.compiled("Recursion", program), *good_rules()], budget=60.0, on_error=errors,
                    sandbox_memory=limit)
    try:
        found = [[m.rule.name for m in engine.evaluate(hostile(n))] for n in range(2)]
        starts = engine._sandbox.starts if engine._sandbox else 0
    finally:
        engine.close()
    assert found == [["Create User", "Create User (libjq)", "Counted"]] * 2
    assert [event for event, _ in errors.of("Recursion")] == ["ev-0", "ev-1"]
    assert all("crashed the isolation child (SIGABRT" in message for _, message in errors.of("Recursion"))
    assert starts == 3  # one child, killed twice by the rule, restarted each time for the rule after it


def test_compiled_python_path_never_runs_unproven_rules() -> None:
    """A backtracking regex or a computed string repetition compiles to Python, where nothing could stop
    it (``re`` and ``str * n`` hold the interpreter); the engine isolates them instead."""
    regex, repeat = Rule.compiled("Backtracking", REGEX), Rule.compiled("Repeat", REPEAT)
    assert repeat.python is not None  # the compiled subset accepts it (a nested-repeat regex it refuses itself)
    errors = Errors()
    engine = Engine([regex, repeat, *good_rules()], budget=5.0, on_error=errors)
    try:
        assert engine.isolated[:2] == [regex, repeat] and len(engine._python) == 1  # only the proven rule runs compiled
        found = [m.rule.name for m in engine.evaluate(hostile(1))]
    finally:
        engine.close()
    assert found == ["Create User", "Create User (libjq)", "Counted"]
    assert {name for name, _, _ in errors.seen} == {"Backtracking", "Repeat"}


def test_budget_holds_off_the_main_thread() -> None:
    """No signal is involved, so an engine run from a worker thread is bounded all the same."""
    errors = Errors()
    engine = Engine([Rule.compiled("Loop", LOOP), *good_rules()], budget=0.3, on_error=errors)
    found: list[list[str]] = []
    worker = threading.Thread(target=lambda: found.append([m.rule.name for m in engine.evaluate(hostile(1))]))
    try:
        worker.start()
        worker.join(timeout=120)
    finally:
        engine.close()
    assert not worker.is_alive()
    assert found == [["Create User", "Create User (libjq)", "Counted"]]
    assert [event for _, event, _ in errors.seen] == ["ev-1"]


# ----------------------------------------------------------------------------------- the Lambda


BUCKET = "trail-bucket"
KEY = "AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/20/123456789012_CloudTrail_us-east-1_20261120T1000Z_x.json.gz"


class Context:
    """A Lambda context whose deadline is ``seconds`` from its creation."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds

    def get_remaining_time_in_millis(self) -> int:
        return int((self.deadline - time.monotonic()) * 1000)


def test_lambda_delivers_good_alerts_beside_runaway_rules_before_its_deadline(
        aws: None, slack: FakeSlack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    config = tmp_path / "tattletail.toml"
    good = ('[[rule]]\nname = "Create User"\ndestinations = ["Slack"]\n'
            "jq_match = 'select(.eventName == \"CreateUser\") | \"user: \\\\(.requestParameters.userName)\"'\n")
    bad = "".join(rule_toml(name, program) + 'destinations = ["Slack"]\n' for name, program in RUNAWAY.items())
    destination = f'[[destination]]\nid = "Slack"\ntype = "slack_webhook"\nwebhook_url = "{slack.url()}"\n'
    config.write_text(good + bad + destination)
    monkeypatch.setenv("TATTLETAIL_CONFIG", str(config))
    monkeypatch.setenv("TATTLETAIL_RULE_BUDGET", "0.5")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
    records = [hostile(n) if n % 2 == 0 else record(n, "CreateUser") for n in range(10)]
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=log_bytes(records))
    context = Context(60.0)
    with caplog.at_level(logging.INFO, logger="tattletail"):
        result = handler.lambda_handler(s3_event(BUCKET, KEY), context)
    assert context.get_remaining_time_in_millis() > 0  # ended before its deadline
    try:
        assert result["matches"] == 10 and result["deliveries"] == 10
        texts = sorted(json.dumps(post) for post in slack.posts)
        assert len(texts) == 10 and all(f"user{n}" in " ".join(texts) for n in range(10))
        lines = [json.loads(r.getMessage()) for r in caplog.records if r.getMessage().startswith("{")]
        # one summary per rule and object (count, first error, first event), not a line per record
        summaries = {line["rule"]: line for line in lines if line["event"] == "rule_errors"}
        for name in RUNAWAY:
            summary = summaries[name]
            assert summary["first_event_id"] == "ev-0"
            assert summary["count"] == 5  # stopped on each of ev-0, 2, 4, 6, 8: never disabled
            if name != "Backtracking":  # Oniguruma's retry limit may end it before the budget does
                assert "evaluation stopped on event ev-0" in summary["first_error"]
        strained = {line["rule"] for line in lines if line["event"] == "rule_strained"}
        assert strained >= {"Loop", "Recursion", "Allocation"}
    finally:
        loaded = current._loaded
        if loaded is not None:
            loaded.engine.close()


# ----------------------------------------------------------------------------------- the child's answers


HUGE_OUTPUT = 'select(.requestParameters.size != null) | "ab" * (.requestParameters.size | tostring | length * 1e6)'


def test_a_huge_output_of_an_isolated_rule_is_refused_by_the_child_not_buffered() -> None:
    errors = Errors()
    engine = Engine([Rule.compiled("Huge", HUGE_OUTPUT), *good_rules()], budget=10.0, on_error=errors)
    try:
        assert engine.isolated[0].name == "Huge"
        found = [m.rule.name for m in engine.evaluate(hostile(1))]
    finally:
        engine.close()
    assert found == ["Create User", "Create User (libjq)", "Counted"]
    [(event, message)] = errors.of("Huge")
    assert event == "ev-1" and "exceeds the limit of 1048576" in message, message


def test_the_parent_reads_no_more_than_the_answer_limit_from_the_child(monkeypatch: pytest.MonkeyPatch) -> None:
    """Should the child send more than the limit (here the parent's limit is lowered below the child's),
    the parent stops reading, kills the child and reports an overrun; the next rule gets a new child."""
    from tattletail import sandbox

    monkeypatch.setattr(sandbox, "answer_limit", lambda record_bytes: 4096)
    errors = Errors()
    # a 25 kB answer; isolated (13 doublings of a computed string)
    big = Rule.compiled("Big", 'select(.eventName == "CreateUser") | .requestParameters.userName * 5000')
    engine = Engine([big, *good_rules()], budget=10.0, on_error=errors)
    try:
        assert engine.isolated[0] is big
        found = [m.rule.name for m in engine.evaluate(hostile(1))]
        starts = engine._sandbox.starts if engine._sandbox else 0
    finally:
        engine.close()
    assert found == ["Create User", "Create User (libjq)", "Counted"]
    [(event, message)] = errors.of("Big")
    assert event == "ev-1" and "an output larger than 4096 bytes" in message
    assert starts == 2


# ----------------------------------------------------------------------------------- cost, not only termination


QUADRATIC = ("[.requestParameters.items[] as $a | .requestParameters.items[] | select(. == $a)]"
             " | length > 1000000")


def test_quadratic_rule_is_isolated_and_stopped_on_a_long_list_while_good_rules_match() -> None:
    """In-process, this rule took seconds per record on a 3,000-element list (9 million comparisons)
    with no way to stop it; now it runs in the child under the budget."""
    rule = Rule.compiled("Pairs", QUADRATIC)
    errors = Errors()
    engine = Engine([rule, *good_rules()], budget=0.3, on_error=errors)
    items = [f"item-{k}" for k in range(3000)]
    try:
        assert engine.isolated[0] is rule
        found = [m.rule.name for m in engine.evaluate(
            record(1, "CreateUser", requestParameters={"userName": "u", "items": items}))]
    finally:
        engine.close()
    assert found == ["Create User", "Create User (libjq)", "Counted"]
    [(event, message)] = errors.of("Pairs")
    assert event == "ev-1" and "no answer within its budget of 0.3 s" in message


# ----------------------------------------------------------------------------------- repetition chains


def test_a_nested_repetition_of_a_record_string_runs_isolated_under_the_memory_limit() -> None:
    """``.userAgent * 1000 * 500`` on a 3 kB user agent asks for 1.5 GB (under jq's own limit on a
    repeated string): in-process that took the Lambda's memory; isolated, the child's address-space
    limit stops it and the good rules go on."""
    rule = Rule.compiled("Repeat", 'select(.eventName == "CreateUser") | (.userAgent * 1000 * 500 | length) > 0')
    errors = Errors()
    engine = Engine([rule, *good_rules()], budget=30.0, on_error=errors, sandbox_memory=256 * MB)
    assert engine.isolated[0] is rule  # checked before evaluating: in-process it would exhaust the memory
    try:
        found = [m.rule.name for m in engine.evaluate(hostile(1))]
    finally:
        engine.close()
    assert found == ["Create User", "Create User (libjq)", "Counted"]
    [(event, message)] = errors.of("Repeat")
    assert event == "ev-1" and ("out of memory" in message or "crashed the isolation child" in message), message


@pytest.mark.parametrize("value", [1.0, 1e22, -0.0, 1e300, 100.0, 0.1, 1e-07, 2**60 + 1, float("inf")])
@pytest.mark.parametrize("program", ['select(.eventName == "X") | error(.a)', "error({n: (.a + 0)})",
                                     "error(.a * 1)", "error([.a, null])"])
def test_a_non_string_error_value_has_jqs_own_text_on_every_path(program: str, value: Any) -> None:
    import jq

    from tattletail.errors import RuleRuntimeError
    from tattletail.jq.recordtext import record_text

    record = {"eventName": "X", "a": value}
    expected = jq.compile(f"try ({program}) catch tojson").input_text(record_text(record)).first()
    rule = Rule("r", program)
    for compiled in (True, False):
        errors: list[str] = []
        Engine([rule], compiled=compiled).evaluate(record, on_error=lambda r, rec, m, errors=errors: errors.append(m))
        assert errors == [expected], compiled
    with pytest.raises(RuleRuntimeError) as raised:
        rule.match(record)
    assert str(raised.value) == expected


def test_a_record_changed_in_place_is_checked_again() -> None:
    """The compiled path checks each record's values once per evaluation (``recordtext.exact``); a record
    changed in place between two evaluations is checked again, so an infinity goes to libjq."""
    from tattletail.jq.modes import first

    rule = Rule("r", ".a | tojson")
    assert rule.python is not None
    engine = Engine([rule])
    record: dict[str, Any] = {"a": 1}
    assert [m.annotation for m in engine.evaluate(record)] == ["1"]
    record["a"] = float("inf")
    assert [m.annotation for m in engine.evaluate(record)] == ["1E+1000"]  # libjq's text for the literal
    record["a"] = 1
    assert first(rule.python, record) == "1"
    record["a"] = float("inf")
    assert first(rule.python, record) == "1E+1000"


@pytest.mark.parametrize("depth", [400, 1000, 5000])
def test_a_record_nested_deeper_than_pythons_stack_is_evaluated_by_libjq(depth: int) -> None:
    """The log reader stops at depth 64; through the Python API a deeper record goes to libjq (which
    reads up to 10000) instead of a RecursionError."""
    from tattletail.jq.recordtext import exact, record_text

    deep: list[Any] = []
    for _ in range(depth):
        deep = [deep, {"k": 1}]
    record = {"eventName": "X", "requestParameters": {"x": 1, "deep": deep}}
    assert not exact(record)
    text = record_text(record)
    assert text.count("[") == depth + 1 and text.startswith('{"eventName":"X","requestParameters":{"x":1,')
    rules = [Rule("x", "select(.requestParameters.x == 1)"), Rule("has", 'select(.requestParameters | has("x"))'),
             Rule("tojson", ".requestParameters | tojson | length > 5"), Rule("not", "select(.eventName == \"Y\")"),
             Rule("annotated", ".requestParameters")]
    for compiled in (True, False):
        errors: list[str] = []
        got = Engine(rules, compiled=compiled).evaluate(
            record, on_error=lambda r, rec, m, errors=errors: errors.append(m))
        assert ([m.rule.name for m in got], errors) == (["x", "has", "tojson", "annotated"], []), compiled
        assert sorted(got[-1].annotation) == ["deep", "x"] and got[-1].annotation["x"] == 1
