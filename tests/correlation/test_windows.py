"""Windows, state and alerts of correlations, below the Lambda: placement, each type's condition, the
DynamoDB item's bounds, and the alert rendered by every destination."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from tattletail.alerts.alert import Alert
from tattletail.config import loader
from tattletail.correlation import history
from tattletail.correlation.correlator import Correlator
from tattletail.correlation.state import DynamoWindows, MemoryWindows
from tattletail.correlation.window import EVIDENCE_CAP, PRUNE_AT, place
from tattletail.rules import Match

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

[[correlation]]
name = "Enumeration"
type = "value_count"
rules = ["Denied"]
group_by = [".userIdentity.arn"]
field = ".eventName"
timespan = "10m"
condition = { gte = 3 }
destinations = ["Slack", "SNS", "Email"]
severity = "medium"

[[correlation]]
name = "Many denials"
type = "event_count"
rules = ["Denied"]
group_by = [".userIdentity.arn"]
timespan = "1h"
windows = "fixed"   # the write counts below are of one series of windows
condition = { gte = 40 }

[[correlation]]
name = "User then key"
type = "temporal_ordered"
rules = ["User", "Key"]
group_by = ["target"]
timespan = "30m"

[correlation.aliases.target]
"User" = ".requestParameters.userName"
"Key" = ".requestParameters.userName"

[[correlation]]
name = "User and key"
type = "temporal"
rules = ["User", "Key"]
group_by = ["target"]
timespan = "30m"

[correlation.aliases.target]
"User" = ".requestParameters.userName"
"Key" = ".requestParameters.userName"

[[destination]]
id = "Slack"
type = "slack_webhook"
webhook_url = "https://hooks.slack.com/services/T/B/X"

[[destination]]
id = "SNS"
type = "sns"
sns_arn = "arn:aws:sns:us-east-1:123456789012:alerts"

[[destination]]
id = "Email"
type = "ses"
to_emails = ["sec@example.com"]
from_email = "alerts@example.com"
'''


@pytest.fixture(scope="module")
def config() -> loader.Config:
    return loader.loads(CONFIG)


def denied(n: int, name: str, minute: int = 0, who: str = "eve") -> dict[str, Any]:
    return {"eventID": f"d{n}", "eventTime": f"2026-11-02T10:{minute:02d}:{n % 60:02d}Z", "eventName": name,
            "errorCode": "AccessDenied", "userIdentity": {"arn": f"arn:aws:iam::1:user/{who}"}}


def iam(n: int, name: str, minute: int, user: str = "backdoor") -> dict[str, Any]:
    return {"eventID": f"i{n}", "eventTime": f"2026-11-02T10:{minute:02d}:00Z", "eventName": name,
            "requestParameters": {"userName": user}, "userIdentity": {"arn": "arn:aws:iam::1:user/mallory"}}


def fired(config: loader.Config, name: str, matches: list[tuple[str, dict[str, Any]]]) -> list[Match]:
    alerts: list[Match] = []
    history.correlate([c for c in config.correlations if c.name == name], config.rules, matches,
                      on_alert=alerts.append)
    return alerts


def test_value_count_counts_distinct_values_not_events(config: loader.Config) -> None:
    same = [("Denied", denied(n, "ListUsers")) for n in range(10)]
    assert fired(config, "Enumeration", same + [("Denied", denied(20, "ListRoles"))]) == []
    (alert,) = fired(config, "Enumeration", same + [("Denied", denied(20, "ListRoles")),
                                                    ("Denied", denied(21, "ListKeys"))])
    assert alert.record["count"] == 3 and alert.record["values"] == ["ListKeys", "ListRoles", "ListUsers"]
    assert alert.record["group"] == {".userIdentity.arn": "arn:aws:iam::1:user/eve"}


def test_temporal_ordered_needs_the_order_and_temporal_does_not(config: loader.Config) -> None:
    in_order = [("User", iam(1, "CreateUser", 1)), ("Key", iam(2, "CreateAccessKey", 5))]
    reversed_ = [("User", iam(1, "CreateUser", 5)), ("Key", iam(2, "CreateAccessKey", 1))]
    assert len(fired(config, "User then key", in_order)) == 1
    assert fired(config, "User then key", reversed_) == []
    assert len(fired(config, "User and key", reversed_)) == 1
    other = [("User", iam(1, "CreateUser", 1)), ("Key", iam(2, "CreateAccessKey", 5, user="someone"))]
    assert fired(config, "User and key", other) == []  # two groups


def test_a_record_without_the_group_value_counts_nowhere(config: loader.Config) -> None:
    correlation = next(c for c in config.correlations if c.name == "Enumeration")
    record = denied(1, "ListUsers")
    del record["userIdentity"]
    assert place(correlation, "Denied", record) == "no value for group_by .userIdentity.arn"
    reason = place(correlation, "Denied", dict(denied(1, "X"), eventTime="yesterday"))
    assert reason == "no readable eventTime (missing, malformed or out of range)"


@pytest.fixture
def table(aws: None) -> Any:
    client = boto3.client("dynamodb", region_name="us-east-1")
    client.create_table(TableName="state", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                        BillingMode="PAY_PER_REQUEST")
    return client


def test_dynamodb_items_stay_bounded_and_counts_go_on_when_the_evidence_is_full(config: loader.Config,
                                                                                table: Any) -> None:
    correlation = next(c for c in config.correlations if c.name == "Many denials")
    windows = DynamoWindows("state", table)
    correlator = Correlator([correlation], windows)
    rule = next(r for r in config.rules if r.name == "Denied")
    alerts = []
    for n in range(39):
        alerts += correlator.observe(Match(rule, denied(n, "ListUsers", minute=n), True, None))
    (item,) = table.scan(TableName="state")["Items"]
    assert len(item["c"]["SS"]) == 39 and len(item["e"]["SS"]) == EVIDENCE_CAP and alerts == []
    # past the evidence cap, a count-only update (the instance saw the evidence full); every PRUNE_AT - 1
    # additions past the first PRUNE_AT + 1, one more dropping the times neither first nor last
    assert windows.writes == 25 + 14 + 5 and len(item["t"]["NS"]) <= PRUNE_AT + 1
    fresh = DynamoWindows("state", table)  # another invocation learns the evidence is full at one write's cost
    assert Correlator([correlation], fresh).observe(Match(rule, denied(39, "ListUsers", minute=39), True, None))
    assert fresh.writes == 2
    alerts += correlator.observe(Match(rule, denied(39, "ListUsers", minute=39), True, None))
    assert len(alerts) == 1 and alerts[0].record["count"] == 40
    assert windows.writes == 25 + 14 + 5 + 2  # the count already met (by fresh): refused, then the time only
    assert alerts[0].record["first_event_time"] == "2026-11-02T10:00:00Z"
    correlator.settle(True)
    assert Correlator([correlation], windows).observe(Match(rule, denied(40, "ListUsers", minute=40), True, None)) == []
    (item,) = table.scan(TableName="state")["Items"]
    assert "done_at" in item and len(item["c"]["SS"]) == 40 and int(item["expires_at"]["N"]) > 0
    assert len(json.dumps(item)) < 10_000


def test_memory_and_dynamodb_windows_agree(config: loader.Config, table: Any) -> None:
    rule = next(r for r in config.rules if r.name == "Denied")
    records = [denied(n, f"Call{n % 4}", minute=n % 15, who="eve" if n % 3 else "bob") for n in range(60)]
    results = []
    for windows in (MemoryWindows(), DynamoWindows("state", table)):
        correlator = Correlator(config.correlations, windows)
        alerts = [a for r in records for a in correlator.observe(Match(rule, r, True, None))]
        results.append([(a.rule.name, a.record["eventID"], a.record["count"]) for a in alerts])
    assert results[0] == results[1] and results[0]


def test_a_correlation_alert_renders_in_every_destination(config: loader.Config) -> None:
    matches = [("Denied", denied(n, name)) for n, name in enumerate(["ListUsers", "ListRoles", "ListKeys"])]
    (match,) = fired(config, "Enumeration", matches)
    alert = Alert.of(match)
    assert alert.title.startswith("Enumeration: 3 distinct .eventName for .userIdentity.arn = arn:aws:iam::1:user/eve")
    labels = dict(alert.fields)
    assert labels["Window"] == "2026-11-02T10:00:00Z to 2026-11-02T10:10:00Z (10m)"
    assert labels["Values"] == "ListKeys, ListRoles, ListUsers"
    assert "2026-11-02T10:00:01Z ListRoles by eve (eventID d1): ListRoles" in labels["Samples"]
    for destination in config.destinations.values():
        text = json.dumps(destination.render(alert), ensure_ascii=False)
        assert "Enumeration: 3 distinct" in text, destination.type
        assert "2026-11-02T10:00:00Z to 2026-11-02T10:10:00Z" in text, destination.type


def test_an_empty_string_is_a_value_dynamodb_can_count(config: loader.Config, table: Any) -> None:
    correlation = next(c for c in config.correlations if c.name == "Enumeration")
    rule = next(r for r in config.rules if r.name == "Denied")
    correlator = Correlator([correlation], DynamoWindows("state", table))
    alerts = [a for n, name in enumerate(["", "ListUsers", "ListRoles"])
              for a in correlator.observe(Match(rule, denied(n, name), True, None))]
    assert len(alerts) == 1 and '""' in alerts[0].record["values"]
