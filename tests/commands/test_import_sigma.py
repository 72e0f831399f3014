"""Sigma import: per-modifier semantics on hand-made records, and the shipped pack checked against an
independent evaluator of the same rules (pySigma's DuckDB backend) over the corpus."""

from __future__ import annotations

import io
import json
import uuid
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
    # a path through a list reaches every element, and a list at its end matches by any element
    ("    selection:\n        requestParameters.containerDefinitions.command|contains: 'CREDENTIALS'",
     [{"requestParameters": {"containerDefinitions": [{"name": "a"}, {"command": ["sh", "curl $CREDENTIALS"]}]}}],
     [{"requestParameters": {"containerDefinitions": [{"command": ["sh"]}]}}, {"requestParameters": "CREDENTIALS"}]),
    ("    selection:\n        errorCode|exists: true",
     [{"errorCode": "AccessDenied"}, {"errorCode": ""}], [{}, {"errorCode": None}]),
    ("    selection:\n        errorCode|exists: false",
     [{}, {"errorCode": None}], [{"errorCode": "AccessDenied"}]),
    ("    selection:\n        requestParameters.size|gte: 80",
     [{"requestParameters": {"size": 80}}, {"requestParameters": {"size": "100"}},
      {"requestParameters": {"size": 80.5}}],
     [{"requestParameters": {"size": 79}}, {"requestParameters": {"size": "big"}},
      {"requestParameters": {"size": True}}, {}]),
    ("    selection:\n        requestParameters.size|lt: 10",
     [{"requestParameters": {"size": 9}}, {"requestParameters": {"size": "-3"}}],
     [{"requestParameters": {"size": 10}}]),
    ("    selection:\n        userAgent|windash|contains: ' -enc '",
     [{"userAgent": "x -enc y"}, {"userAgent": "x /enc y"}, {"userAgent": "x \u2013enc y"}],
     [{"userAgent": "x enc y"}]),
    ("    selection:\n        requestParameters.data|base64offset|contains: 'curl'",
     [{"requestParameters": {"data": "Y3VybCBodHRw"}}, {"requestParameters": {"data": "eCBjdXJs"}}],
     [{"requestParameters": {"data": "Y3VsbCBodHRw"}}]),
    ("    selection:\n        errorMessage|re|m: '^denied$'",
     [{"errorMessage": "first line\ndenied"}], [{"errorMessage": "first line denied"}]),
    ("    selection:\n        errorMessage|re|s: 'a.b'",
     [{"errorMessage": "a\nb"}, {"errorMessage": "axb"}], [{"errorMessage": "ab"}]),
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
    ("    selection:\n        a|expand: '%x%'", "selection", "placeholder"),
    ("    selection:\n        a|re: '\\d+'", "selection", "does not mean the same"),
])
def test_what_cannot_be_translated_is_skipped_with_the_reason(detection: str, condition: str, reason: str) -> None:
    with pytest.raises(sigma.Skipped, match=reason):
        sigma.translate(rule_from(detection, condition))


CIDR_ADDRESSES = ["10.1.2.3", "10.255.255.255", "11.0.0.1", "192.168.1.7", "192.168.2.7", "300.1.1.1", "10.1.2",
                  "2001:db8::1", "2001:DB8:0:0:0:0:0:1", "2001:0db8:ffff::", "2001:db9::1", "::1", "::", "fe80::1%eth0",
                  "2001:db8::1::2", "1::2:3:4:5:6:7:8", "::ffff:10.1.2.3", "not an address", ""]


@pytest.mark.parametrize("network", ["10.0.0.0/8", "192.168.1.0/24", "0.0.0.0/0", "10.1.2.3/32", "2001:db8::/32",
                                     "::/0", "::1/128", "2001:db8:ffff::/48"])
def test_cidr_agrees_with_pythons_ipaddress_in_both_engines(network: str) -> None:
    import ipaddress

    from tattletail.engine import Engine
    from tattletail.rules import Rule

    detection = f"    selection:\n        sourceIPAddress|cidr: '{network}'"
    rule = Rule.compiled("cidr", sigma.translate(rule_from(detection)))
    assert sigma.CIDR_HELPER in rule.jq_match  # the one shared definition
    net = ipaddress.ip_network(network)
    for address in CIDR_ADDRESSES:
        try:
            expected = ipaddress.ip_address(address) in net
        except ValueError:
            expected = False
        if address.startswith("::ffff:") or "%" in address:
            expected = False  # IPv4-mapped text and zone ids are not forms the helper reads (nor CloudTrail writes)
        record = {"sourceIPAddress": address}
        for compiled in (True, False):
            got = bool(Engine([rule], compiled=compiled).evaluate(record))
            assert got == expected, (network, address, compiled)


def write_rule(path: Path, title: str, detection: str, logsource: str = "{product: aws, service: cloudtrail}") -> None:
    path.write_text(f"""title: {title}
id: {uuid.uuid5(uuid.NAMESPACE_URL, title)}
status: test
author: tester
logsource: {logsource}
detection:
{detection}
    condition: selection
level: high
""")


def test_unloadable_files_and_other_logsources_are_skipped_by_name_and_the_rest_imports(tmp_path: Path) -> None:
    write_rule(tmp_path / "good.yml", "Good rule", "    selection:\n        eventName: CreateUser")
    write_rule(tmp_path / "windows.yml", "Windows rule", "    selection:\n        Image: cmd.exe",
               "{product: windows, category: process_creation}")
    (tmp_path / "broken.yml").write_text("title: [unclosed\n")
    write_rule(tmp_path / "bad_modifier.yml", "Bad modifier", "    selection:\n        eventName|nosuchmodifier: x")
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["import", "sigma", str(tmp_path)], out, err) == 0
    messages = err.getvalue()
    assert "broken.yml: cannot be loaded" in messages and "bad_modifier.yml: cannot be loaded" in messages
    assert "windows.yml: Windows rule: logsource is product 'windows'" in messages
    assert "1 rules translated, 3 skipped" in messages
    assert 'name = "Good rule"' in out.getvalue() and "Windows rule" not in out.getvalue()


OVERRIDES = """
[[override]]
id = "{a}"
title = "Rule A"
reason = "no status field in CloudTrail"
detection = '''
selection:
    eventName: CreateUser
condition: selection
'''

[[override]]
id = "{b}"
title = "Rule B"
reason = "too noisy"
enabled = false
"""


def test_overrides_replace_a_detection_or_ship_a_rule_off_with_the_reason(tmp_path: Path) -> None:
    write_rule(tmp_path / "a.yml", "Rule A", "    selection:\n        eventName: CreateUser\n        status: success")
    write_rule(tmp_path / "b.yml", "Rule B", "    selection:\n        eventName: DeleteUser")
    rules = {r.title: r for r in sigma.load([tmp_path])}
    overrides = tmp_path / "overrides.toml"
    overrides.write_text(OVERRIDES.format(a=rules["Rule A"].id, b=rules["Rule B"].id))
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["import", "sigma", str(tmp_path), "--overrides", str(overrides)], out, err) == 0, err.getvalue()
    pack = tmp_path / "pack.toml"
    pack.write_text(out.getvalue())
    loaded = {r.name: r for r in config.load_pack(pack)}
    assert loaded["Rule A"].match({"eventName": "CreateUser"}) is not None
    assert "Corrected here (sigma-overrides.toml): no status field in CloudTrail" in loaded["Rule A"].description
    assert not loaded["Rule B"].enabled and "Shipped off: too noisy" in loaded["Rule B"].description
    overrides.write_text(overrides.read_text().replace('title = "Rule A"', 'title = "Another rule"'))
    err = io.StringIO()
    cli.main(["import", "sigma", str(tmp_path), "--overrides", str(overrides)], io.StringIO(), err)
    assert "a.yml: cannot be loaded" in err.getvalue() and "names title 'Another rule'" in err.getvalue()


def shipped(name: str) -> Any:
    return {r.name: r for r in config.load_pack(ROOT / "rules" / "sigma-aws-cloudtrail.toml")}[name]


def test_shipped_corrections_fire_on_what_their_titles_say() -> None:
    role = {"type": "AssumedRole", "arn": "arn:aws:sts::1:assumed-role/Admin/alice",
            "sessionContext": {"sessionIssuer": {"type": "Role", "userName": "Admin"}}}
    misuse = shipped("AWS STS AssumeRole Misuse")
    assert misuse.match({"eventSource": "sts.amazonaws.com", "eventName": "AssumeRole", "userIdentity": role})
    assert not misuse.match({"eventSource": "s3.amazonaws.com", "eventName": "ListBuckets", "userIdentity": role})
    keys = shipped("AWS IAM Backdoor Users Keys")
    bob = {"type": "IAMUser", "userName": "bob", "arn": "arn:aws:iam::1:user/bob"}
    created = {"eventSource": "iam.amazonaws.com", "eventName": "CreateAccessKey", "userIdentity": bob}
    assert not keys.match({**created, "responseElements": {"accessKey": {"userName": "bob"}}})
    assert keys.match({**created, "responseElements": {"accessKey": {"userName": "carol"}}})
    profile = shipped("AWS User Login Profile Was Modified")
    updated = {"eventSource": "iam.amazonaws.com", "eventName": "UpdateLoginProfile", "userIdentity": bob}
    assert not profile.match({**updated, "requestParameters": {"userName": "bob"}})
    assert profile.match({**updated, "requestParameters": {"userName": "carol"}})
    saml = shipped("AWS SAML Provider Deletion Activity")
    assert saml.match({"eventSource": "iam.amazonaws.com", "eventName": "DeleteSAMLProvider"})
    assert not saml.match({"eventSource": "iam.amazonaws.com", "eventName": "DeleteSAMLProvider",
                           "errorCode": "AccessDenied"})
    assert not shipped("AWS Root Credentials").enabled
    ecs = shipped("AWS ECS Task Definition That Queries The Credential Endpoint")
    assert ecs.match({"eventSource": "ecs.amazonaws.com", "eventName": "RegisterTaskDefinition", "requestParameters": {
        "containerDefinitions": [{"name": "app",
                                  "command": ["sh", "-c", "curl $AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]}]}})


def test_import_command_writes_a_pack_that_passes_its_tests(tmp_path: Path) -> None:
    if not SIGMA_DIR.is_dir():
        pytest.skip("../shared/sigma is absent")
    out, err = io.StringIO(), io.StringIO()
    pack = tmp_path / "sigma.toml"
    assert cli.main(["import", "sigma", str(SIGMA_DIR), "--overrides", str(ROOT / "sigma-overrides.toml"),
                     "-o", str(pack)], out, err) == 0
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
    cli.main(["import", "sigma", "../shared/sigma/aws-cloudtrail", "--overrides", "sigma-overrides.toml"], out,
             io.StringIO())
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
    built = [sigma.examples(rule, sigma.translate(rule)) or () for rule in rules]
    constructed = [json.loads(json.dumps(x)) for pair in built for x in pair]
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
