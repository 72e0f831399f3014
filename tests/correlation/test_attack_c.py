"""Findings of a third outside attack on correlations, each pinned by a test that failed before its fix:
DeleteObjects records as real trails write them, empty ARNs, item sizes counted in bytes, poisoned
event times and weights, windows that split bursts, and the cost of a flood after a window fired."""

from __future__ import annotations

import logging
from typing import Any

import boto3
import pytest

from tattletail.config import loader
from tattletail.correlation import history
from tattletail.correlation.correlator import Correlator
from tattletail.correlation.model import MAX_COUNT, MEMBER_BYTES, member_text
from tattletail.correlation.state import DynamoWindows, MemoryWindows, Windows
from tattletail.correlation.window import EVIDENCE_CAP, place
from tattletail.delivery.report import Report
from tattletail.rules import Match
from tests.helpers import ROOT

CONFIG = '''
[[rule]]
name = "Failed"
jq_match = 'select(.eventName == "ConsoleLogin")'

[[correlation]]
name = "Brute force"
type = "event_count"
rules = ["Failed"]
group_by = [".userIdentity.userName"]
timespan = "5m"
condition = { gte = 10 }

[[correlation]]
name = "Agents"
type = "value_count"
rules = ["Failed"]
group_by = [".userIdentity.userName"]
field = ".userAgent"
timespan = "5m"
condition = { gte = 600 }

[[correlation]]
name = "Weighted"
type = "event_count"
rules = ["Failed"]
group_by = [".userIdentity.userName"]
weight = ".w"
timespan = "5m"
condition = { gte = 50 }
'''


@pytest.fixture(scope="module")
def config() -> loader.Config:
    return loader.loads(CONFIG)


@pytest.fixture(scope="module")
def pack() -> tuple[Any, Any]:
    return loader.load_definitions(ROOT / "rules" / "correlations.toml")


@pytest.fixture
def table(aws: None) -> Any:
    client = boto3.client("dynamodb", region_name="us-east-1")
    client.create_table(TableName="state", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                        BillingMode="PAY_PER_REQUEST")
    return client


def named(correlations: Any, name: str) -> Any:
    return next(c for c in correlations if c.name == name)


def observe(config: loader.Config, name: str, windows: Windows, records: list[dict[str, Any]],
            correlator: Correlator | None = None) -> list[Match]:
    correlator = correlator or Correlator([named(config.correlations, name)], windows)
    rule = next(r for r in config.rules if r.name == "Failed")
    return [alert for record in records for alert in correlator.observe(Match(rule, record, True, None))]


def failed(n: int, time: str, user: str = "bob", **extra: Any) -> dict[str, Any]:
    record = {"eventID": f"f{n}", "eventTime": time, "eventName": "ConsoleLogin", "recipientAccountId": "111122223333",
              "sourceIPAddress": "198.51.100.7", "userIdentity": {"type": "IAMUser", "userName": user}}
    record.update(extra)
    return record


def at(minute: int, second: int = 0) -> str:
    return f"2026-11-02T10:{minute:02d}:{second:02d}Z"


def pack_alerts(pack: tuple[Any, Any], name: str, records: list[dict[str, Any]]) -> list[Match]:
    rules, correlations = pack
    correlation = named(correlations, name)
    alerts: list[Match] = []
    history.correlate([correlation], rules, [(correlation.rules[0], r) for r in records], on_alert=alerts.append)
    return alerts


# 1. DeleteObjects as real trails write it: "delete": "", one resource with an ARNPrefix, no keys

def real_delete_objects(n: int, keys: int, key_length: int = 40) -> dict[str, Any]:
    body = '<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' + \
        "".join(f"<Object><Key>{'k' * key_length}</Key></Object>" for _ in range(keys)) + "</Delete>"
    return {"eventVersion": "1.09", "eventID": f"del-{n}", "eventTime": at(1, n), "eventSource": "s3.amazonaws.com",
            "eventName": "DeleteObjects", "eventCategory": "Data", "recipientAccountId": "012345678901",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::012345678901:user/mallory"},
            "requestParameters": {"bucketName": "target", "delete": "", "x-id": "DeleteObjects"},
            "additionalEventData": {"bytesTransferredIn": len(body), "bytesTransferredOut": 0},
            "resources": [{"type": "AWS::S3::Object", "ARNPrefix": "arn:aws:s3:::target/"},
                          {"accountId": "012345678901", "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::target"}]}


def test_the_pack_estimates_the_objects_of_a_real_delete_objects_record(pack: tuple[Any, Any]) -> None:
    (alert,) = pack_alerts(pack, "S3 mass deletion", [real_delete_objects(n, 1000) for n in range(49)])
    assert alert.record["count"] == 50


def test_the_estimate_never_overcounts_keys_of_seventy_characters(pack: tuple[Any, Any]) -> None:
    assert pack_alerts(pack, "S3 mass deletion", [real_delete_objects(n, 7, key_length=70) for n in range(7)]) == []


def test_a_prefix_resource_alone_counts_as_one_object(pack: tuple[Any, Any]) -> None:
    records = [real_delete_objects(n, 1) for n in range(49)]
    for record in records:
        del record["additionalEventData"]
    assert pack_alerts(pack, "S3 mass deletion", records) == []


# 5. an empty ARN is missing, not a value shared by everyone

def identity_center_denied(n: int, user: str) -> dict[str, Any]:
    return {"eventID": f"{user}-{n}", "eventTime": at(1, n), "eventName": f"Describe{n}", "errorCode": "AccessDenied",
            "recipientAccountId": "111122223333",
            "userIdentity": {"type": "IdentityCenterUser", "arn": "", "accountId": "111122223333",
                             "onBehalfOf": {"userId": user, "identityStoreArn": "arn:aws:identitystore::1:d-1"}}}


def test_identity_center_users_with_empty_arns_are_not_merged(pack: tuple[Any, Any]) -> None:
    records = [identity_center_denied(n, user) for user in ("alice-id", "carol-id") for n in range(5)]
    assert pack_alerts(pack, "Access denied enumeration", records) == []
    alice = [identity_center_denied(n, "alice-id") for n in range(10)]
    (alert,) = pack_alerts(pack, "Access denied enumeration", alice)
    assert alert.record["group"]["principal"] == "alice-id"


# 3. DynamoDB items: members bounded in bytes, long values kept distinct

def test_member_text_is_bounded_in_bytes_and_keeps_long_values_distinct() -> None:
    values = [str(n) + "\U0001D54F" * 260 for n in range(20)] + ["x" * 255 + "a", "x" * 255 + "b"]
    texts = [member_text(value) for value in values]
    assert all(len(text.encode("utf-8")) <= MEMBER_BYTES for text in texts)
    assert len(set(texts)) == len(values)
    assert member_text("short") == "short"


def test_value_count_item_size(config: loader.Config, table: Any) -> None:
    records = [failed(n, at(1, n % 60), userAgent=str(n) + "\U0001D54F" * 260) for n in range(620)]
    (alert,) = observe(config, "Agents", DynamoWindows("state", table), records)
    assert alert.record["count"] == 600
    for item in table.scan(TableName="state")["Items"]:
        size = sum(len(m.encode()) for m in item["c"]["SS"]) + sum(len(m.encode()) for m in item["e"]["SS"])
        assert size < 400 * 1024
    assert MAX_COUNT * MEMBER_BYTES + EVIDENCE_CAP * 512 < 300 * 1024  # the documented bound, with room for the rest


# 4. poisoned records: an event time out of range, a weight too large for an integer

@pytest.mark.parametrize("time", ["9999-12-31T23:58:00Z", "0001-01-01T00:00:00Z"])
def test_event_times_out_of_range_are_unplaced_and_counted(config: loader.Config, time: str,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    correlator = Correlator(config.correlations, MemoryWindows())
    assert observe(config, "", MemoryWindows(), [failed(n, time) for n in range(12)], correlator) == []
    report = Report("poisoned.json.gz")
    with caplog.at_level(logging.WARNING):
        correlator.settle(True, report)
    assert report.correlation_unplaced == 12 * 3  # each of the three correlations counts each record once
    assert "out of range" in caplog.text


def test_a_huge_weight_counts_one_event(config: loader.Config) -> None:
    correlation = named(config.correlations, "Weighted")
    entry = place(correlation, "Failed", failed(1, at(1), w=float("inf")))
    assert not isinstance(entry, str) and len(entry.counted) == 1
    entry = place(correlation, "Failed", failed(1, at(1), w=float("nan")))
    assert not isinstance(entry, str) and len(entry.counted) == 1


# 6. a flood after a window fired in an earlier invocation costs one refused write, not three per match

def test_a_window_fired_in_an_earlier_invocation_costs_one_write_per_invocation(config: loader.Config,
                                                                               table: Any) -> None:
    earlier = Correlator([named(config.correlations, "Brute force")], DynamoWindows("state", table))
    (alert,) = observe(config, "", earlier.windows, [failed(n, at(1, n)) for n in range(10)], earlier)
    earlier.settle(True)
    later = DynamoWindows("state", table)
    flood = [failed(100 + n, at(2, n)) for n in range(100)]
    assert observe(config, "", later, flood, Correlator([named(config.correlations, "Brute force")], later)) == []
    assert later.writes == 3  # one per window the flood falls in: the fired one and the two overlapping it


# 2. windows: overlapping by default, "fixed" on request, anything else refused

def test_an_unknown_windows_kind_is_refused_naming_the_valid_ones() -> None:
    from tattletail.errors import ConfigError

    with pytest.raises(ConfigError, match=r"unknown windows 'sliding' \(valid: overlapping, fixed\)"):
        loader.loads(CONFIG.replace("condition = { gte = 10 }", 'windows = "sliding"\ncondition = { gte = 10 }', 1))


def test_the_pack_fires_on_its_brute_force_case_wherever_the_window_edges_fall(pack: tuple[Any, Any]) -> None:
    import json
    from datetime import datetime, timedelta

    records = json.loads((ROOT / "rules" / "correlation-tests" / "brute-force.json").read_text())["Records"]
    fired = 0
    for shift in range(0, 600, 20):
        moved = [dict(r, eventTime=(datetime.fromisoformat(r["eventTime"].replace("Z", "+00:00"))
                                    + timedelta(seconds=shift)).strftime("%Y-%m-%dT%H:%M:%SZ")) for r in records]
        fired += len(pack_alerts(pack, "Console brute force", moved))
    assert fired == 30


# 8. run/replay keep of each base-rule match only what its correlations read

def test_history_keeps_only_the_keys_the_correlations_read_and_fires_the_same(pack: tuple[Any, Any]) -> None:
    rules, correlations = pack
    keys = history.read_keys(correlations)
    rule = "Correlation input: access denied"
    records = [dict(identity_center_denied(n, "alice-id"), requestParameters={"big": "x" * 10_000},
                    tlsDetails={"tlsVersion": "TLSv1.3"}) for n in range(10)]
    slimmed = [history.slim(record, keys[rule]) for record in records]
    assert "requestParameters" not in slimmed[0] and "tlsDetails" not in slimmed[0]
    assert slimmed[0]["userIdentity"] == records[0]["userIdentity"]
    full, slim = pack_alerts(pack, "Access denied enumeration", records), \
        pack_alerts(pack, "Access denied enumeration", slimmed)
    assert [a.record for a in full] == [a.record for a in slim] and len(full) == 1
    deletion = "Correlation input: S3 object deleted"
    assert {"requestParameters", "resources", "additionalEventData"} <= keys[deletion]  # its weight reads them


def test_a_record_without_an_event_id_is_kept_whole() -> None:
    record = {"eventTime": at(1), "requestParameters": {"a": 1}}
    assert history.slim(record, frozenset({"eventTime"})) is record
