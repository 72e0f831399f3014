"""The shipped rule packs as a whole: every rule says what it means and is tested both ways, no rule errors
on records whose optional objects are odd (null, a string, a number, an array, missing), the rules
shipped on stay quiet over the real corpus, and the README's per-pack table tells the truth."""

from __future__ import annotations

import copy
import functools
import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tattletail.commands.test import case_records, collect
from tattletail.engine import Engine
from tattletail.inputs.logfile import iter_file
from tattletail.rules import Rule
from tests.helpers import ROOT, corpus_files

RULES_DIR = ROOT / "rules"
PACKS = sorted(RULES_DIR.glob("*.toml"))
NEW_PACKS = ("data-exposure", "ransomware-destruction", "defense-evasion", "credential-compromise",
             "compute-lambda-secrets")
OPTIONAL = ("userIdentity", "requestParameters", "responseElements", "additionalEventData",
            "serviceEventDetails", "resources", "tlsDetails")
ODD_VALUES: tuple[Any, ...] = (None, "x", 7, [], [{"a": 1}, "b"], {}, True)
MISSING = object()
NOISE_LIMIT = 0.01  # a rule shipped on may match at most 1% of the corpus's records


def shipped_rules() -> list[Rule]:
    """Every rule that ships: all packs (rules shipped off included) and the example config's own rules."""
    config_rules = [r for r in collect([ROOT / "tattletail.toml"]) if Path(r.origin).name == "tattletail.toml"]
    return list(collect([RULES_DIR])) + config_rules


def corpus_records() -> list[dict[str, Any]]:
    return [r for path in corpus_files() for r in iter_file(str(path))]


def mutants(record: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The record with each optional object replaced by each odd value or removed, and with each key of
    each optional object replaced by an odd value (rotating through them) or removed."""
    n = 0
    for key in OPTIONAL:
        for value in (*ODD_VALUES, MISSING):
            changed = dict(record)
            if value is MISSING:
                changed.pop(key, None)
            else:
                changed[key] = copy.deepcopy(value)
            yield changed
        inner = record.get(key)
        if isinstance(inner, dict):
            for sub in inner:
                for value in (ODD_VALUES[n % len(ODD_VALUES)], MISSING):
                    n += 1
                    obj = dict(inner)
                    if value is MISSING:
                        del obj[sub]
                    else:
                        obj[sub] = copy.deepcopy(value)
                    yield {**record, key: obj}


def test_every_pack_rule_says_what_it_means_and_is_tested_both_ways() -> None:
    for rule in collect([RULES_DIR]):
        where = f"{Path(rule.origin).name}: {rule.name}"
        assert rule.description and rule.severity, where
        if rule.name.startswith("Correlation input: "):
            continue  # alerts only through its correlations, whose [[correlation.test]] sequences test it
        assert any(t["match"] for t in rule.tests) and any(not t["match"] for t in rule.tests), where
        if Path(rule.origin).stem in NEW_PACKS:
            assert rule.runbook and rule.references, where
            assert any("close miss" in t.get("name", "") for t in rule.tests), where


def test_rules_shipped_off_say_why() -> None:
    off = [r for r in collect([RULES_DIR]) if not r.enabled]
    assert off, "the noisy CIS and Sigma rules are shipped off"
    for rule in off:
        assert "Shipped off" in rule.description, rule.name


def _errors_on(rule: Rule, records: list[dict[str, Any]], compiled: bool) -> list[str]:
    """The rule's errors, through the engine, on every mutant of the given records."""
    errors: list[str] = []
    engine = Engine([rule], compiled=compiled, on_error=lambda rule, record, message: errors.append(message))
    for record in records:
        for mutant in mutants(record):
            engine.evaluate(mutant)
    return errors


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "libjq"])
def test_no_rule_errors_on_odd_optional_objects_in_its_own_test_records(compiled: bool) -> None:
    rules = shipped_rules()
    assert len(rules) > 140
    own = {rule.name: [record for case in rule.tests for record in case_records(rule, case)] for rule in rules}
    errors = {rule.name: found for rule in rules if (found := _errors_on(rule, own[rule.name], compiled))}
    assert errors == {}


def test_no_rule_errors_on_odd_optional_objects_in_the_corpus_records_it_matches(noise: Any) -> None:
    _, _, _, _, examples = noise
    errors = {rule.name: found for rule in shipped_rules()
              if (found := _errors_on(rule, examples.get(rule.name, [])[:3], compiled=True))}
    assert errors == {}
    assert len(examples) > 40  # rules that match something in the corpus, so this test exercises them


def corpus_matches(rules: list[Rule], records: list[dict[str, Any]]
                   ) -> tuple[Counter[str], dict[str, set[int]], dict[str, list[dict[str, Any]]]]:
    """Matches per rule, the records each pack's rules shipped on match (by pack file name), and the
    records each rule matches (its examples from real logs)."""
    per_rule: Counter[str] = Counter()
    per_pack: dict[str, set[int]] = {}
    examples: dict[str, list[dict[str, Any]]] = {}
    engine = Engine(rules)
    for i, record in enumerate(records):
        for match in engine.evaluate(record):
            per_rule[match.rule.name] += 1
            examples.setdefault(match.rule.name, []).append(record)
            if match.rule.enabled:  # what a team including the packs would see
                per_pack.setdefault(Path(match.rule.origin).name, set()).add(i)
    return per_rule, per_pack, examples


@pytest.fixture(scope="module")
def noise() -> tuple[list[Rule], int, Counter[str], dict[str, set[int]], dict[str, list[dict[str, Any]]]]:
    records = corpus_records()
    if not records:
        pytest.skip("../shared/corpus is absent")
    rules = shipped_rules()
    per_rule, per_pack, examples = corpus_matches(rules, records)
    return rules, len(records), per_rule, per_pack, examples


def test_rules_shipped_on_match_at_most_one_percent_of_the_corpus(noise: Any) -> None:
    rules, total, per_rule, _, _ = noise
    alerting = [r for r in rules if r.enabled and not r.name.startswith("Correlation input: ")]  # those alert
    loud = {r.name: per_rule[r.name] for r in alerting if per_rule[r.name] > total * NOISE_LIMIT}  # only via
    # their correlations, which fire once per group and window
    assert loud == {}


def readme_table() -> dict[str, tuple[int, int, int]]:
    """The README's rule-pack table: pack file -> (rules, cases, corpus records matched)."""
    rows = {}
    for line in (ROOT / "README.md").read_text().splitlines():
        found = re.match(r"\|\s*`rules/([\w.-]+\.toml)`\s*\|\s*(\d+)(?: \(\d+ off\))?\s*\|\s*(\d+)\s*\|\s*(\d+)", line)
        if found:
            rows[found[1]] = (int(found[2]), int(found[3]), int(found[4]))
    return rows


def test_readme_pack_table_matches_the_packs(noise: Any) -> None:
    rules, _, _, per_pack, _ = noise
    table = readme_table()
    assert set(table) == {p.name for p in PACKS}
    for pack in PACKS:
        mine = [r for r in rules if Path(r.origin).name == pack.name]
        expected = (len(mine), sum(len(r.tests) for r in mine), len(per_pack.get(pack.name, ())))
        assert table[pack.name] == expected, (pack.name, expected)


def test_mutants_cover_null_string_number_array_and_missing() -> None:
    record = {"eventName": "X", "requestParameters": {"a": 1, "b": {"c": 2}}}
    seen = {json.dumps(m.get("requestParameters", "MISSING")) for m in mutants(record)}
    assert {"null", '"x"', "7", "[]", '"MISSING"'} <= seen
    assert any(isinstance(m.get("requestParameters"), dict) and "a" not in m["requestParameters"]
               for m in mutants(record))


def test_an_include_turns_rules_shipped_off_on_by_name(tmp_path: Path) -> None:
    from tattletail.config import loader
    from tattletail.errors import ConfigError

    def names(include: str) -> set[str]:
        config = tmp_path / "tattletail.toml"
        config.write_text(f'[[include]]\npath = "{RULES_DIR / "cis-aws-foundations.toml"}"\n{include}\n')
        return {rule.name for rule in loader.load(config).rules}

    assert "CIS 4.1 Unauthorized API calls" not in names("")
    assert "CIS 4.4 IAM policy changes" in names("")
    assert "CIS 4.1 Unauthorized API calls" in names('enable = ["CIS 4.1 Unauthorized API calls"]')
    with pytest.raises(ConfigError, match="enable names no rule of the pack: 'CIS 9.9'"):
        names('enable = ["CIS 9.9"]')


RESTRICTING_KEYS = ("aws:SourceArn", "aws:SourceAccount", "aws:SourceOwner", "aws:SourceVpc", "aws:SourceVpce",
                    "aws:SourceOrgID", "aws:SourceOrgPaths", "aws:PrincipalArn", "aws:PrincipalAccount",
                    "aws:PrincipalOrgID", "aws:PrincipalOrgPaths", "aws:ResourceAccount", "aws:ResourceOrgID",
                    "aws:userid", "kms:CallerAccount", "s3:DataAccessPointAccount", "s3:DataAccessPointArn")


@functools.cache
def _policy_rule() -> Rule:
    return next(r for r in collect([RULES_DIR / "data-exposure.toml"]) if r.name == "Resource policy made public")


def _bucket_policy_record(*statements: dict[str, Any]) -> dict[str, Any]:
    """A PutBucketPolicy record as CloudTrail writes it (the policy as an object), other fields as in the
    pack's own cases."""
    rule = _policy_rule()
    base = next(record for case in rule.tests for record in case_records(rule, case)
                if record["eventName"] == "PutBucketPolicy")
    params = {"bucketName": "customer-data", "policy": "",
              "bucketPolicy": {"Version": "2012-10-17", "Statement": list(statements)}}
    return {**base, "requestParameters": params}


def _statement(condition: Any = None, **principal: Any) -> dict[str, Any]:
    statement = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::customer-data/*",
                 **(principal or {"Principal": "*"})}
    if condition is not None:
        statement["Condition"] = condition
    return statement


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "libjq"])
def test_public_policy_means_anyone_unless_a_condition_fixes_an_account_org_vpc_or_range(compiled: bool) -> None:
    engine = Engine([_policy_rule()], compiled=compiled)

    def public(*statements: dict[str, Any]) -> bool:
        return bool(engine.evaluate(_bucket_policy_record(*statements)))

    for key in RESTRICTING_KEYS:
        value = "arn:aws:iam::111122223333:role/app" if key.endswith(("Arn", "arn")) else "111122223333"
        assert not public(_statement({"StringEquals": {key: value}})), key
        assert not public(_statement({"ForAnyValue:StringLike": {key.upper(): [value]}})), key  # keys ignore case
        assert public(_statement({"StringNotEquals": {key: value}})), key
        assert public(_statement({"StringEqualsIfExists": {key: value}})), key
        assert public(_statement({"StringLike": {key: "*"}})), key
        assert public(_statement({"StringEquals": {key: "${aws:PrincipalAccount}"}})), key
    assert not public(_statement({"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "2001:db8::/32"]}}))
    for wide in ("0.0.0.0/0", "0.0.0.0/1", "::/0", "not-an-address"):
        assert public(_statement({"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", wide]}})), wide
    assert public(_statement({"Bool": {"aws:SecureTransport": "true"}}))
    assert public(_statement({"StringEquals": {"aws:RequestedRegion": "us-east-1"}}))
    assert public(_statement(None, Principal={"AWS": ["arn:aws:iam::111122223333:root", "*"]}))
    assert public(_statement(None, NotPrincipal={"AWS": "arn:aws:iam::111122223333:root"}))
    assert not public(_statement(None, Principal={"AWS": "arn:aws:iam::111122223333:root"}))
    assert not public({**_statement(None, NotPrincipal={"AWS": "arn:aws:iam::111122223333:root"}), "Effect": "Deny"})
    assert not public(_statement({"Bool": {"aws:SecureTransport": "true"},
                                  "StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}))
    for odd in ("a string", 7, None, [], {"StringEquals": "x"}, {"StringEquals": {"aws:SourceAccount": []}}):
        assert public(_statement(odd)), odd  # a condition that fixes nothing leaves the statement public
