"""Findings of an outside attack on correlations, each pinned by a test that failed before its fix:
the evidence cap limiting detection and the first/last times, records dropped silently for want of a
group value, hidden user names collapsing distinct counts, groups merging across accounts, deletions
counted per call, and the texts around a pack."""

from __future__ import annotations

import io
import logging
import random
from pathlib import Path
from typing import Any

import boto3
import pytest

from tattletail.commands import main
from tattletail.config import loader
from tattletail.correlation import history
from tattletail.correlation.correlator import Correlator
from tattletail.correlation.state import DynamoWindows, MemoryWindows, Windows
from tattletail.correlation.testing import untested
from tattletail.correlation.window import EVIDENCE_CAP, PRUNE_AT
from tattletail.delivery.report import Report
from tattletail.engine import Engine
from tattletail.pipeline import process_records
from tattletail.rules import Match
from tests.helpers import ROOT

CONFIG = '''
[[rule]]
name = "Denied"
jq_match = 'select(.errorCode == "AccessDenied")'

[[rule]]
name = "User"
jq_match = 'select(.eventName == "CreateUser")'

[[rule]]
name = "Key"
jq_match = 'select(.eventName == "CreateAccessKey")'

[[rule]]
name = "Policy"
jq_match = 'select(.eventName == "AttachUserPolicy")'

[[rule]]
name = "Failed"
jq_match = 'select(.eventName == "ConsoleLogin")'

[[rule]]
name = "Deleted"
jq_match = 'select(.eventName == "DeleteObjects")'

[[correlation]]
name = "Persistence"
type = "temporal_ordered"
rules = ["User", "Key", "Policy"]
group_by = ["target"]
timespan = "1h"

[correlation.aliases.target]
"User" = ".requestParameters.userName"
"Key" = ".requestParameters.userName"
"Policy" = ".requestParameters.userName"

[[correlation]]
name = "Many denials"
type = "event_count"
rules = ["Denied"]
group_by = [".userIdentity.arn"]
timespan = "1h"
windows = "fixed"   # the item checks below are of one series of windows
condition = { gte = 40 }

[[correlation]]
name = "Enumeration"
type = "value_count"
rules = ["Denied"]
group_by = [".userIdentity.arn"]
field = ".eventName"
timespan = "1h"
condition = { gte = 3 }

[[correlation]]
name = "Spraying"
type = "value_count"
rules = ["Failed"]
group_by = [".sourceIPAddress"]
field = ".userIdentity.userName"
timespan = "30m"
condition = { gte = 5 }

[[correlation]]
name = "Mass deletion"
type = "event_count"
rules = ["Deleted"]
group_by = [".userIdentity.arn"]
weight = ".requestParameters.delete.objects | length"
timespan = "10m"
condition = { gte = 50 }
'''
HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"


@pytest.fixture(scope="module")
def config() -> loader.Config:
    return loader.loads(CONFIG)


@pytest.fixture
def table(aws: None) -> Any:
    client = boto3.client("dynamodb", region_name="us-east-1")
    client.create_table(TableName="state", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                        BillingMode="PAY_PER_REQUEST")
    return client


@pytest.fixture(params=["memory", "dynamodb"])
def windows(request: pytest.FixtureRequest) -> Windows:
    if request.param == "memory":
        return MemoryWindows()
    return DynamoWindows("state", request.getfixturevalue("table"))


def correlation_named(config: loader.Config, name: str) -> Any:
    return next(c for c in config.correlations if c.name == name)


def observe(config: loader.Config, name: str, windows: Windows,
            matches: list[tuple[str, dict[str, Any]]]) -> list[Match]:
    correlator = Correlator([correlation_named(config, name)], windows)
    rules = {rule.name: rule for rule in config.rules}
    return [alert for rule, record in matches for alert in correlator.observe(Match(rules[rule], record, True, None))]


def at(minute: int, second: int = 0) -> str:
    return f"2026-11-02T10:{minute:02d}:{second:02d}Z"


def iam(n: int, name: str, time: str, user: str = "backdoor") -> dict[str, Any]:
    return {"eventID": f"i{n}", "eventTime": time, "eventName": name, "recipientAccountId": "111122223333",
            "requestParameters": {"userName": user}, "userIdentity": {"arn": "arn:aws:iam::1:user/mallory"}}


def denied(n: int, time: str, name: str = "ListUsers", account: str = "111122223333",
           who: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"eventID": f"d{n}", "eventTime": time, "eventName": name, "errorCode": "AccessDenied",
            "recipientAccountId": account, "userIdentity": who or {"arn": "arn:aws:iam::1:user/eve"}}


# 1. the evidence cap must limit kept evidence, never detection

def test_temporal_ordered_still_fires_when_a_flood_of_its_first_rule_fills_the_evidence(
        config: loader.Config, windows: Windows) -> None:
    flood = [("User", iam(n, "CreateUser", at(1 + n // 60, n % 60))) for n in range(3 * EVIDENCE_CAP)]
    sequence = [("Key", iam(900, "CreateAccessKey", at(30))), ("Policy", iam(901, "AttachUserPolicy", at(40)))]
    (alert,) = observe(config, "Persistence", windows, flood + sequence)
    assert alert.record["count"] == 3
    assert alert.record["counted"].endswith(": User then Key then Policy")


def test_temporal_ordered_out_of_order_arrival_past_the_cap_decides_on_event_times(
        config: loader.Config, windows: Windows) -> None:
    # policies first (all before the key), then the key, then a late-arriving earlier user: in event time
    # the sequence user (10:01) -> key (10:20) -> policy (10:50) exists only with the last policy
    early = [("Policy", iam(n, "AttachUserPolicy", at(2 + n // 60, n % 60))) for n in range(2 * EVIDENCE_CAP)]
    rest = [("Policy", iam(800, "AttachUserPolicy", at(50))), ("Key", iam(801, "CreateAccessKey", at(20)))]
    assert observe(config, "Persistence", windows, early + rest) == []
    assert len(observe(config, "Persistence", windows, [("User", iam(802, "CreateUser", at(1)))])) == 1


# 6. first and last event time are tracked apart from the evidence cap

def test_first_and_last_event_times_hold_past_the_evidence_cap(config: loader.Config, windows: Windows) -> None:
    middle = [("Denied", denied(n, at(1 + n % 50, n % 60))) for n in range(38)]
    random.Random(5).shuffle(middle)
    ends = [("Denied", denied(100, at(0, 3))), ("Denied", denied(101, at(59, 58)))]
    (alert,) = observe(config, "Many denials", windows, middle + ends)
    assert alert.record["count"] == 40
    assert alert.record["first_event_time"] == at(0, 3) and alert.record["last_event_time"] == at(59, 58)


def test_times_stay_pruned_in_the_dynamodb_item(config: loader.Config, table: Any) -> None:
    observe(config, "Many denials", DynamoWindows("state", table),
            [("Denied", denied(n, at(n % 60, n % 7))) for n in range(39)])
    (item,) = table.scan(TableName="state")["Items"]
    assert len(item["t"]["NS"]) <= PRUNE_AT + 1 and len(item["e"]["SS"]) == EVIDENCE_CAP


# 3. records without the group_by value are counted and reported, not dropped silently

def test_records_without_a_group_value_are_counted_logged_and_reported(
        config: loader.Config, caplog: pytest.LogCaptureFixture) -> None:
    correlator = Correlator([correlation_named(config, "Many denials")])
    records = [denied(n, at(1, n), who={"type": "AWSAccount", "principalId": "AIDAX", "accountId": "4"})
               for n in range(3)] + [denied(9, at(2))]
    report = Report("object")
    with caplog.at_level(logging.WARNING):
        process_records(records, report, Engine(config.rules), correlator=correlator)
    assert report.correlation_unplaced == 3 and report.fields()["correlation_unplaced"] == 3
    assert "correlation_records_unplaced" in caplog.text and "no value for group_by .userIdentity.arn" in caplog.text


def test_the_pack_groups_principals_without_an_arn_by_their_principal_id() -> None:
    rules, correlations = loader.load_definitions(ROOT / "rules" / "correlations.toml")
    enumeration = next(c for c in correlations if c.name == "Access denied enumeration")
    records = [denied(n, at(1, n), name=f"Call{n}", who={"type": "AWSAccount", "principalId": "AIDAOUTSIDER",
                                                            "accountId": "444455556666"}) for n in range(10)]
    alerts: list[Match] = []
    history.correlate([enumeration], rules, [(enumeration.rules[0], r) for r in records], on_alert=alerts.append)
    (alert,) = alerts
    assert alert.record["group"][enumeration.group_by[0].name] == "AIDAOUTSIDER"


# 4. HIDDEN_DUE_TO_SECURITY_REASONS user names do not collapse into one value

def failed(n: int, user: str, ip: str = "198.51.100.7") -> dict[str, Any]:
    return {"eventID": f"f{n}", "eventTime": at(1, n), "eventName": "ConsoleLogin", "sourceIPAddress": ip,
            "recipientAccountId": "111122223333", "userIdentity": {"type": "IAMUser", "userName": user}}


def test_hidden_user_names_count_as_distinct_users_once_per_record(config: loader.Config, windows: Windows) -> None:
    hidden = [("Failed", failed(n, HIDDEN)) for n in range(4)]
    assert observe(config, "Spraying", windows, hidden + hidden) == []          # the same four records twice
    (alert,) = observe(config, "Spraying", windows, [("Failed", failed(4, HIDDEN))])
    assert alert.record["count"] == 5
    assert alert.record["values"] == [f"{HIDDEN} (x5: unknown user names, each counted)"]


# 5. groups never merge across accounts

def test_the_same_principal_in_two_accounts_is_two_groups(config: loader.Config, windows: Windows) -> None:
    split = [("Denied", denied(n, at(1, n), name=f"Call{n}", account=str(n % 2) * 12)) for n in range(4)]
    assert observe(config, "Enumeration", windows, split) == []
    (alert,) = observe(config, "Enumeration", windows, [("Denied", denied(9, at(2), name="Other", account="0" * 12))])
    assert alert.record["group"] == {"account": "000000000000", ".userIdentity.arn": "arn:aws:iam::1:user/eve"}
    assert "account = 000000000000" in alert.record["title"]


# 7. mass deletion counts objects, not calls

def deletion(n: int, objects: int, minute: int = 1) -> dict[str, Any]:
    return {"eventID": f"x{n}", "eventTime": at(minute, n), "eventName": "DeleteObjects",
            "recipientAccountId": "111122223333", "userIdentity": {"arn": "arn:aws:iam::1:user/eve"},
            "requestParameters": {"delete": {"objects": [{"key": f"k{i}"} for i in range(objects)]}}}


def test_a_weighted_event_count_counts_the_objects_each_call_deletes(config: loader.Config, windows: Windows) -> None:
    assert observe(config, "Mass deletion", windows, [("Deleted", deletion(1, 30)), ("Deleted", deletion(1, 30)),
                                                      ("Deleted", deletion(2, 19))]) == []  # 49: a call seen twice
    (alert,) = observe(config, "Mass deletion", windows, [("Deleted", deletion(3, 1))])
    assert alert.record["count"] == 50


def test_one_call_deleting_more_than_the_threshold_fires_and_stays_small(config: loader.Config, table: Any) -> None:
    (alert,) = observe(config, "Mass deletion", DynamoWindows("state", table), [("Deleted", deletion(1, 5000))])
    assert alert.record["count"] == 50   # members beyond what the condition needs are never written
    (item,) = table.scan(TableName="state")["Items"]
    assert len(item["c"]["SS"]) == 50


# 8. texts

def test_untested_correlations_are_named_in_plain_words(config: loader.Config) -> None:
    from dataclasses import replace

    enumeration = correlation_named(config, "Enumeration")
    texts = untested([replace(enumeration, tests=({"fire": True},)), replace(enumeration, tests=({"fire": False},)),
                      enumeration])
    assert [t.split("'Enumeration' ", 1)[1] for t in texts] == [
        "has no near miss (a case that must not fire)", "has no firing case",
        "has no test cases (it needs a firing case and a near miss)"]


def test_including_the_correlation_pack_warns_of_no_base_rule_without_destinations(tmp_path: Path) -> None:
    path = tmp_path / "tattletail.toml"
    path.write_text(f'''
[[destination]]
id = "Slack"
type = "slack_webhook"
webhook_url = "https://hooks.slack.com/services/T/B/X"

[[include]]
path = "{ROOT / "rules" / "correlations.toml"}"
destinations = ["Slack"]

[[rule]]
name = "Mine"
jq_match = 'select(.eventName == "X")'
''')
    assert [w for w in loader.load(path).warnings if "no destinations" in w] == [
        f"{path}: rule 'Mine': no destinations: its matches are shown by run and replay but never sent"]
    out, err = io.StringIO(), io.StringIO()
    assert main(["check", str(path)], out=out, err=err) == 0
    assert (out.getvalue() + err.getvalue()).count("no destinations") == 1


# bounds that keep the fixes from growing an item without end

def test_a_window_waiting_for_delivery_counts_no_further_members(config: loader.Config, table: Any) -> None:
    windows = DynamoWindows("state", table)
    records = [("Denied", denied(n, at(n % 60, n % 13))) for n in range(40)]
    assert len(observe(config, "Many denials", windows, records)) == 1       # fired; never settled
    more = [("Denied", denied(100 + n, at(n, 30))) for n in range(10)]
    assert len(observe(config, "Many denials", windows, more)) == 1          # the next invocation fires it again
    (item,) = table.scan(TableName="state")["Items"]
    assert len(item["c"]["SS"]) == 40 and "done_at" not in item


def test_long_sequences_compare_order_at_a_coarser_resolution_said_by_explain() -> None:
    from tattletail.correlation.window import place

    long = loader.loads(CONFIG.replace('timespan = "1h"\n\n[correlation.aliases.target]',
                                       'timespan = "7d"\n\n[correlation.aliases.target]'))
    persistence = correlation_named(long, "Persistence")
    assert "order compared to within 84s" in persistence.explain()
    assert "order compared" not in correlation_named(config_of(), "Persistence").explain()
    a, b = (place(persistence, "Key", iam(n, "CreateAccessKey", at(m, s))) for n, m, s in ((1, 0, 20), (2, 1, 30)))
    assert not isinstance(a, str) and not isinstance(b, str) and a.counted == b.counted


def config_of() -> loader.Config:
    return loader.loads(CONFIG)
