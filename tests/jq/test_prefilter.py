from __future__ import annotations

import json

import pytest

from tattletail.config import loader as config
from tattletail.engine import Engine
from tattletail.inputs.logfile import iter_file
from tattletail.jq.prefilter import necessary_condition
from tests.helpers import BENCH, COMPAT, ROOT


@pytest.mark.parametrize(("program", "expected"), [
    ('select(.eventName == "X")', {(("eventName",), frozenset({"X"}))}),
    ('select("X" == .eventName) | .a', {(("eventName",), frozenset({"X"}))}),
    ('select(.eventName|IN("A","B"))', {(("eventName",), frozenset({"A", "B"}))}),
    ('select(.a.b == "x" or .c == "y")', {(("a", "b"), frozenset({"x"})), (("c",), frozenset({"y"}))}),
    ('select(.a == 1 and .eventName == "X")', {(("eventName",), frozenset({"X"}))}),
    ('select(.x|test("a")|not) | select(.userIdentity.type == "Root")',
     {(("userIdentity", "type"), frozenset({"Root"}))}),
    ('select(.userIdentity.type? == "Root")', {(("userIdentity", "type"), frozenset({"Root"}))}),  # robust paths too
    ('select(.a.b?.c? == "x")', {(("a", "b", "c"), frozenset({"x"}))}),
    ('.eventName == "DeleteBucket"', {(("eventName",), frozenset({"DeleteBucket"}))}),
    ('select(.eventName == "a\\u0042\\"c")', {(("eventName",), frozenset({'aB"c'}))}),
])
def test_recognised_necessary_conditions(program: str, expected: set) -> None:
    assert set(necessary_condition(program) or ()) == expected


@pytest.mark.parametrize("program", [
    'select(.eventName == "X" or .a == 1)',          # one side unknown: no condition for the whole
    'select(.eventName != "X")',
    'select(.eventName == "X", true)',               # several outputs
    'select(.eventName == "\\(.x)")',                # interpolation
    '.a | select(.eventName == "X")',                # input changed before the select
    'def select(f): .; select(.eventName == "X")',   # select redefined
    'select(if .a then .eventName == "X" else true end)',
    'select(.eventName == "X" // true)',
    'select(.eventName == true)',                    # only string literals: Python's True == 1
    ".responseElements.accessKey.accessKeyId",
    'select(.eventName|IN("A", .b))',
])
def test_anything_else_gives_no_condition(program: str) -> None:
    assert necessary_condition(program) is None


def rule_sets() -> list:
    paths = [ROOT / "tattletail.toml", BENCH / "rules10.toml", BENCH / "rules50.toml",
             COMPAT / "readme-example.tattletail.toml"]
    return [p for p in paths if p.exists()]


@pytest.mark.parametrize("config_path", rule_sets(), ids=lambda p: p.name)
def test_identical_matches_with_and_without_prefilter(config_path, corpus) -> None:
    rules = config.load(config_path).rules
    with_filter, without = Engine(rules), Engine(rules, prefilter=False)
    assert with_filter.prefiltered > 0
    for path in corpus:
        for record in iter_file(str(path)):
            a = [(m.rule.name, json.dumps(m.value)) for m in with_filter.evaluate(record)]
            b = [(m.rule.name, json.dumps(m.value)) for m in without.evaluate(record)]
            assert a == b, record.get("eventID")
