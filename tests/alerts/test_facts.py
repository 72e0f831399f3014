from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tattletail.alerts.facts import Identity, console_url, derive
from tattletail.inputs.logfile import iter_file
from tests.helpers import EVENTS


def record(name: str) -> dict:
    return json.loads((EVENTS / "records" / f"{name}.json").read_text())


@pytest.mark.parametrize(("name", "expected"), [
    ("iam-user", Identity("IAMUser", "alice", None, "arn:aws:iam::123456789012:user/alice", "123456789012")),
    ("assumed-role", Identity("AssumedRole", "AWSReservedSSO_Admin_0123456789abcdef", "alice@example.com",
                              "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/alice@example.com",
                              "123456789012", "AWSReservedSSO_Admin_0123456789abcdef")),
    ("root", Identity("Root", "root", None, "arn:aws:iam::123456789012:root", "123456789012")),
    ("aws-service", Identity("AWSService", "cloudtrail.amazonaws.com")),
    ("federated-user", Identity("FederatedUser", "break-glass", None,
                                "arn:aws:sts::123456789012:federated-user/break-glass", "123456789012",
                                "federation-broker")),
    ("saml-user", Identity("SAMLUser", "carol@example.com")),
    ("identity-center-user", Identity("IdentityCenterUser", "94482488-3041-7026-18f3-be45837cd0e4", None, None,
                                      "123456789012")),
    ("aws-account", Identity("AWSAccount", "account 210987654321", None, None, "210987654321")),
    ("unknown", Identity("Unknown", "AWSReservedSSO_ReadOnly_0a1b", "dave",
                         "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_ReadOnly_0a1b/dave", "123456789012")),
    ("insight", Identity()),
])
def test_who_for_every_identity_type(name: str, expected: Identity) -> None:
    assert derive(record(name)).who == expected


def test_assumed_role_shows_role_and_the_session_name_a_tool_or_person_set() -> None:
    assert derive(record("assumed-role")).who.display() == (
        "AWSReservedSSO_Admin_0123456789abcdef (alice@example.com)")
    assert derive(record("assumed-role-tool")).who.display() == "ci-deployer (botocore-session-1732145405)"


def test_the_other_facts() -> None:
    facts = derive(record("assumed-role"))
    assert facts.time == datetime(2026, 11, 20, 23, 30, 5, tzinfo=UTC)
    assert (facts.event_name, facts.event_source, facts.region, facts.account) == (
        "StartSession", "ssm.amazonaws.com", "eu-west-1", "123456789012")
    assert (facts.source_ip, facts.target, facts.failed) == ("198.51.100.23", "i-0123456789abcdef0", False)
    failed = derive(record("identity-center-user"))
    assert failed.failed and failed.error_code == "AccessDenied"
    assert derive(record("unknown")).failed  # a failed console login has only errorMessage
    assert derive(record("aws-account")).target == (
        "arn:aws:kms:eu-west-1:123456789012:key/0a1b2c3d-1111-2222-3333-444455556666")
    insight = derive(record("insight"))
    assert (insight.event_name, insight.event_source) == ("RunInstances", "ec2.amazonaws.com")


def test_console_link_is_region_aware_and_quotes_the_event_id() -> None:
    assert console_url("eu-west-1", "a/b") == (
        "https://eu-west-1.console.aws.amazon.com/cloudtrailv2/home?region=eu-west-1#/events/a%2Fb")
    assert console_url("us-gov-east-1", "x").startswith("https://us-gov-east-1.console.amazonaws-us-gov.com/")
    assert console_url("cn-north-1", "x").startswith("https://cn-north-1.console.amazonaws.cn/")
    assert console_url("apiso-northsouth-3r", "x") is None  # invented region names get no link
    assert console_url("eu-west-1", None) is None


@pytest.mark.parametrize("odd", [
    {}, {"userIdentity": None}, {"userIdentity": "text"}, {"userIdentity": {"type": 5, "arn": 7}},
    {"requestParameters": "a string"}, {"requestParameters": {"target": {"nested": 1}}}, {"resources": "x"},
    {"resources": [None, {"ARN": 5}]}, {"eventTime": "Jul 5, 2021 1:18:34 PM"}, {"eventTime": 5},
    {"awsRegion": ["x"]}, {"errorCode": 200},
])
def test_odd_shapes_never_raise(odd: dict) -> None:
    derive(odd)


def test_every_corpus_record(corpus) -> None:
    types: dict[str | None, int] = {}
    for path in corpus:
        for rec in iter_file(str(path)):
            facts = derive(rec)
            types[facts.who.type] = types.get(facts.who.type, 0) + 1
            if facts.who.type is not None:
                assert facts.who.display(), rec.get("eventID")
            if rec.get("eventTime") and "@timestamp" not in rec:
                assert facts.time is not None
    assert {"IAMUser", "AssumedRole", "Root", "AWSService", "FederatedUser", "SAMLUser", "IdentityCenterUser",
            "Unknown", None} <= set(types)
