"""Sigma import: per-modifier semantics on hand-made records, and the shipped pack checked against an
independent evaluator of the same rules (pySigma's DuckDB backend) over the corpus."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("sigma.collection", reason="pySigma (the sigma extra) is not installed")

from tattletail import commands as cli
from tattletail.commands import import_sigma as sigma  # noqa: E402
from tattletail.config import loader as config
from tattletail.inputs.logfile import iter_file  # noqa: E402
from tattletail.jq.values import number_text, tojson  # noqa: E402
from tests.helpers import ROOT, SHARED, corpus_files  # noqa: E402

SIGMA_DIR = SHARED / "sigma" / "aws-cloudtrail"


def rule_from(detection: str, condition: str = "selection") -> Any:
    from sigma.collection import SigmaCollection

    text = f"""
title: Test rule
id: 11111111-2222-3333-4444-555555555555
status: test
author: tester
logsource: {{product: aws, service: cloudtrail}}
detection:
{detection}
    condition: {condition}
level: high
"""
    (rule,) = SigmaCollection.from_yaml(text).rules
    return rule


def matches(rule: Any, record: dict[str, Any]) -> bool:
    from tattletail.rules import Rule

    return Rule.compiled("r", sigma.translate(rule)).match(record) is not None


@pytest.mark.parametrize(("detection", "hits", "misses"), [
    ("    selection:\n        eventName: CreateUser",
     [{"eventName": "CreateUser"}, {"eventName": "createuser"}, {"eventName": "CREATEUSER"}],
     [{"eventName": "CreateUsers"}, {"eventName": "xCreateUser"}, {}, {"eventName": None}]),
    ("    selection:\n        eventName|cased: CreateUser",
     [{"eventName": "CreateUser"}], [{"eventName": "createuser"}]),
    ("    selection:\n        eventName: 'Create*'",
     [{"eventName": "CreateUser"}, {"eventName": "create"}], [{"eventName": "xCreateUser"}, {"eventName": "Creat"}]),
    ("    selection:\n        eventName: '*User'",
     [{"eventName": "CreateUser"}, {"eventName": "user"}], [{"eventName": "CreateUsers"}]),
    ("    selection:\n        eventName: 'C?eateUser'",
     [{"eventName": "CreateUser"}, {"eventName": "CxeateUser"}], [{"eventName": "CeateUser"}]),
    ("    selection:\n        eventName|contains: eateU",
     [{"eventName": "CreateUser"}, {"eventName": "EATEU"}], [{"eventName": "Create User"}]),
    ("    selection:\n        eventName|startswith: Create",
     [{"eventName": "CreateUser"}], [{"eventName": "ReCreate"}]),
    ("    selection:\n        eventName|endswith: User",
     [{"eventName": "CreateUser"}], [{"eventName": "UserCreate"}]),
    ("    selection:\n        userAgent|contains|all:\n            - kali\n            - linux",
     [{"userAgent": "Kali Linux"}], [{"userAgent": "kali"}]),
    ("    selection:\n        errorCode: null",
     [{}, {"errorCode": None}], [{"errorCode": "AccessDenied"}, {"errorCode": ""}]),
    ("    selection:\n        readOnly: 'true'",
     [{"readOnly": True}, {"readOnly": "true"}, {"readOnly": "TRUE"}], [{"readOnly": False}, {"readOnly": 1}]),
    ("    selection:\n        requestParameters.maxResults: '1'",
     [{"requestParameters": {"maxResults": 1}}, {"requestParameters": {"maxResults": "1"}}],
     [{"requestParameters": {"maxResults": 10}}, {"requestParameters": "x"}]),
    ("    selection:\n        userIdentity.arn|re: ':assumed-role/Admin'",
     [{"userIdentity": {"arn": "arn:aws:sts::1:assumed-role/Admin/x"}}],
     [{"userIdentity": {"arn": "arn:aws:sts::1:assumed-role/admin/x"}}]),  # re is case-sensitive
    ("    selection:\n        eventName:\n            - CreateUser\n            - DeleteUser",
     [{"eventName": "deleteuser"}], [{"eventName": "UpdateUser"}]),
    ("    sel:\n        eventName: CreateUser\n    filter:\n        userIdentity.type: Root",
     [{"eventName": "CreateUser", "userIdentity": {"type": "IAMUser"}}, {"eventName": "CreateUser"}],
     [{"eventName": "CreateUser", "userIdentity": {"type": "root"}}]),
    ("    selection:\n        userIdentity.arn|fieldref: requestParameters.userName",
     [{"userIdentity": {"arn": "Bob"}, "requestParameters": {"userName": "bob"}}],
     [{"userIdentity": {"arn": "bob"}}, {"userIdentity": {"arn": "a"}, "requestParameters": {"userName": "b"}}]),
    ("    selection:\n        requestParameters|contains: '\"s3:GetObject\"'",
     [{"requestParameters": {"policy": {"Action": "s3:GetObject"}}}], [{"requestParameters": {"a": 1}}]),
])
def test_modifiers_on_hand_made_records(detection: str, hits: list[Any], misses: list[Any]) -> None:
    condition = "sel and not filter" if "filter:" in detection else "selection"
    rule = rule_from(detection, condition)
    for record in hits:
        assert matches(rule, record), (sigma.translate(rule), record)
    for record in misses:
        assert not matches(rule, record), (sigma.translate(rule), record)


def test_one_of_and_all_of_patterns() -> None:
    rule = rule_from("    sel_a:\n        eventName: A\n    sel_b:\n        eventName: B\n    other:\n        x: y",
                     "1 of sel_* and not other")
    assert matches(rule, {"eventName": "b"}) and not matches(rule, {"eventName": "b", "x": "Y"})
    rule = rule_from("    sel_a:\n        a: '1'\n    sel_b:\n        b: '2'", "all of sel_*")
    assert matches(rule, {"a": 1, "b": "2"}) and not matches(rule, {"a": 1})


@pytest.mark.parametrize(("detection", "condition", "reason"), [
    ("    keywords:\n        - evil", "keywords", "keyword search"),
    ("    selection:\n        sourceIPAddress|cidr: 10.0.0.0/8", "selection", "SigmaCIDRExpression"),
    ("    selection:\n        a|lt: 5", "selection", "SigmaCompareExpression"),
    ("    selection:\n        a|expand: '%x%'", "selection", "placeholder"),
    ("    selection:\n        a|re: '\\d+'", "selection", "does not mean the same"),
])
def test_what_cannot_be_translated_is_skipped_with_the_reason(detection: str, condition: str, reason: str) -> None:
    with pytest.raises(sigma.Skipped, match=reason):
        sigma.translate(rule_from(detection, condition))


def test_import_command_writes_a_pack_that_passes_its_tests(tmp_path: Path) -> None:
    if not SIGMA_DIR.is_dir():
        pytest.skip("../shared/sigma is absent")
    out, err = io.StringIO(), io.StringIO()
    pack = tmp_path / "sigma.toml"
    assert cli.main(["import", "sigma", str(SIGMA_DIR), "-o", str(pack)], out, err) == 0
    assert "57 rules translated, 0 skipped" in err.getvalue()
    rules = config.load_pack(pack)
    assert len(rules) == 57 and all(r.python is not None for r in rules)
    first = rules[0]
    assert first.sigma_id and first.author and first.license == "DRL-1.1" and first.severity
    out = io.StringIO()
    assert cli.main(["test", str(pack)], out, io.StringIO()) == 0 and "114 passed, 0 failed" in out.getvalue()


def test_shipped_pack_is_the_generated_one() -> None:
    if not SIGMA_DIR.is_dir():
        pytest.skip("../shared/sigma is absent")
    out = io.StringIO()
    cli.main(["import", "sigma", "../shared/sigma/aws-cloudtrail"], out, io.StringIO())
    assert out.getvalue() == (ROOT / "rules" / "sigma-aws-cloudtrail.toml").read_text(), "run: make sigma"


# ---------------------------------------------------------------- the independent evaluator

def _fields(rules: list[Any]) -> set[str]:
    from sigma.conditions import ConditionFieldEqualsValueExpression
    from sigma.types import SigmaFieldReference

    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, ConditionFieldEqualsValueExpression):
            found.add(node.field)
            if isinstance(node.value, SigmaFieldReference):
                found.add(node.value.field)
        for arg in getattr(node, "args", []) or []:
            walk(arg)

    for rule in rules:
        for condition in rule.detection.parsed_condition:
            walk(condition.parsed)
    return found


def _column(record: Any, field: str) -> str | None:
    """A record's field as text in the table: strings as they are, other values as their JSON text
    (written as jq writes it), null and absent as SQL NULL."""
    for key in field.split("."):
        if not isinstance(record, dict):
            return None
        record = record.get(key)
    if record is None:
        return None
    if isinstance(record, str):
        return record
    return number_text(record) if isinstance(record, int | float) and not isinstance(record, bool) else tojson(record)


def duckdb_matches(rules: list[Any], records: list[dict[str, Any]]) -> dict[str, set[int]]:
    """The records each rule selects according to pySigma's DuckDB backend, with its two documented
    deviations from Sigma corrected: ``=`` compares case-sensitively (corrected by a NOCASE collation on
    every column), and a comparison on a missing field is SQL NULL, which drops the record under ``not``
    (corrected by ``coalesce(..., false)`` around each comparison)."""
    import duckdb
    from sigma_backend_duckdb.backend import DuckDBBackend

    class Corrected(DuckDBBackend):  # type: ignore[misc]
        def convert_condition_field_eq_val(self, cond: Any, state: Any) -> Any:
            return f"coalesce({super().convert_condition_field_eq_val(cond, state)}, false)"

    fields = sorted(_fields(rules))
    db = duckdb.connect()
    columns = ", ".join(f'"{f}" VARCHAR COLLATE NOCASE' for f in fields)
    db.execute(f"CREATE TABLE logs (idx INTEGER, {columns})")
    db.executemany(f"INSERT INTO logs VALUES ({', '.join('?' * (len(fields) + 1))})",
                   [[i, *(_column(r, f) for f in fields)] for i, r in enumerate(records)])
    backend = Corrected()
    out = {}
    for rule in rules:
        (query,) = backend.convert_rule(rule)
        assert query.startswith("SELECT * FROM logs WHERE ")
        out[rule.title] = {row[0] for row in db.execute(query.replace("SELECT *", "SELECT idx", 1)).fetchall()}
    return out


def test_same_matches_as_pysigmas_duckdb_backend_over_the_corpus_and_constructed_records(corpus) -> None:
    if not SIGMA_DIR.is_dir():
        pytest.skip("../shared/sigma is absent")
    rules = sigma.load([SIGMA_DIR])
    corpus_records = [r for path in corpus_files() for r in iter_file(str(path))]
    constructed = [json.loads(json.dumps(x)) for rule in rules for x in (sigma.examples(rule) or ())]
    records = corpus_records + constructed
    expected = duckdb_matches(rules, records)
    from tattletail.engine import Engine
    from tattletail.rules import Rule

    engine = Engine([Rule.compiled(rule.title, sigma.translate(rule)) for rule in rules])  # the real engine
    got: dict[str, set[int]] = {rule.title: set() for rule in rules}
    for i, record in enumerate(records):
        for match in engine.evaluate(record):
            got[match.rule.name].add(i)
    for rule in rules:
        assert got[rule.title] == expected[rule.title], (rule.title, sorted(got[rule.title] ^ expected[rule.title])[:5])
    hits_in_corpus = sum(1 for rule in rules if any(i < len(corpus_records) for i in got[rule.title]))
    assert hits_in_corpus == 28  # as SOURCES.md says; the other 29 rules are checked on constructed records
