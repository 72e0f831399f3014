"""Each CIS rule selects exactly the records its published CloudWatch metric filter selects."""

from __future__ import annotations

import copy
import json
import re

import pytest

from tattletail.config import loader as config
from tattletail.inputs.logfile import iter_file
from tattletail.rules import Rule
from tests.cis_patterns import PATTERNS
from tests.helpers import ROOT, corpus_files
from tests.metric_filter import compile_pattern

RULES = {re.match(r"CIS (4\.\d+) ", r.name).group(1): r  # type: ignore[union-attr]
         for r in config.load_pack(ROOT / "rules" / "cis-aws-foundations.toml")}


def matches(rule: Rule, record: dict) -> bool:
    try:
        return rule.match(record) is not None
    except Exception:  # a jq error is no match, as in the engine
        return False


def variants(record: dict) -> list[dict]:
    """The record and near neighbours: each field the patterns read removed, nulled, or changed."""
    out = [record]
    for path in (("errorCode",), ("eventName",), ("eventSource",), ("sourceIPAddress",), ("errorMessage",),
                 ("eventType",), ("userIdentity", "type"), ("userIdentity", "invokedBy"),
                 ("additionalEventData", "MFAUsed")):
        for change in ("drop", "null", "other", "number"):
            copied = copy.deepcopy(record)
            target = copied
            for key in path[:-1]:
                target = target.get(key) if isinstance(target, dict) else None
            if not isinstance(target, dict):
                continue
            if change == "drop":
                target.pop(path[-1], None)
            else:
                target[path[-1]] = {"null": None, "other": "Other", "number": 5}[change]
            out.append(copied)
    return out


def test_every_control_4_1_to_4_15_is_there() -> None:
    assert sorted(RULES, key=lambda n: int(n.split(".")[1])) == [f"4.{i}" for i in range(1, 16)]


@pytest.mark.parametrize("control", sorted(PATTERNS, key=lambda n: int(n.split(".")[1])))
def test_rule_agrees_with_published_pattern_on_its_tests_and_their_neighbours(control: str) -> None:
    pattern, rule = compile_pattern(PATTERNS[control]), RULES[control]
    cases = [json.loads(case["record"]) for case in rule.tests]
    assert any(pattern(r) for r in cases) and not all(pattern(r) for r in cases)
    for base in cases:
        for record in variants(base):
            assert matches(rule, record) == pattern(record), (control, json.dumps(record)[:300])


def test_rules_agree_with_published_patterns_over_the_corpus(corpus) -> None:
    compiled = {c: compile_pattern(p) for c, p in PATTERNS.items()}
    hits = dict.fromkeys(PATTERNS, 0)
    for path in corpus_files():
        for record in iter_file(str(path)):
            for control, pattern in compiled.items():
                expected = pattern(record)
                assert matches(RULES[control], record) == expected, (control, record.get("eventID"))
                hits[control] += expected
    assert sum(1 for n in hits.values() if n) >= 8, hits  # the comparison is not vacuous
