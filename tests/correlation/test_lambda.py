"""Correlations through the real Lambda entry point, with moto's DynamoDB holding the windows.

The scenario: a brute force (failed console sign-ins by one user) whose records CloudTrail spread over
several files, delivered in any order, in separate (and concurrent) invocations.
"""

from __future__ import annotations

import io
import json
import random
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from tattletail import handler
from tattletail.config import current
from tests.helpers import FakeSlack, log_bytes, s3_event

BUCKET = "trail"
START = datetime(2026, 11, 20, 10, 0, 0, tzinfo=UTC)   # a window start (5m windows)
THRESHOLD = 5

CONFIG = '''
[[rule]]
name = "Console sign-in failed"
jq_match = 'select(.eventName == "ConsoleLogin" and .responseElements.ConsoleLogin == "Failure")'

[[correlation]]
name = "Console brute force"
type = "event_count"
rules = ["Console sign-in failed"]
group_by = [".userIdentity.arn"]
timespan = "5m"
lateness = "30m"
condition = { gte = 5 }
destinations = ["Slack"]
severity = "high"

[[destination]]
id = "Slack"
type = "slack_webhook"
webhook_url = "URL"
'''


def failure(n: int, at: datetime, user: str = "alice") -> dict[str, Any]:
    return {
        "eventVersion": "1.08", "eventID": f"evt-{user}-{n}", "eventTime": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "signin.amazonaws.com", "eventName": "ConsoleLogin", "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.7", "recipientAccountId": "123456789012",
        "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::123456789012:user/{user}", "userName": user},
        "responseElements": {"ConsoleLogin": "Failure"},
        "additionalEventData": {"MFAUsed": "No"},
    }


class World:
    def __init__(self, tmp_path: Path, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> None:
        self.s3 = boto3.client("s3", region_name="us-east-1")
        self.s3.create_bucket(Bucket=BUCKET)
        self.dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        self.dynamodb.create_table(TableName="state", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                                   AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                                   BillingMode="PAY_PER_REQUEST")
        self.slack = slack
        self.config_path = tmp_path / "tattletail.toml"
        self.config_path.write_text(CONFIG.replace("URL", slack.url()))
        self.tmp_path = tmp_path
        monkeypatch.setenv("TATTLETAIL_CONFIG", str(self.config_path))
        monkeypatch.setenv("TATTLETAIL_STATE_TABLE", "state")
        self.now = START + timedelta(minutes=10)
        monkeypatch.setattr(handler, "clock", lambda: self.now.timestamp())
        self.files = 0

    def put(self, records: list[dict[str, Any]]) -> str:
        """One log object holding ``records``; its key. Also written locally, for ``replay``."""
        self.files += 1
        key = f"AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/20/file{self.files}.json.gz"
        data = log_bytes(records)
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=data)
        local = self.tmp_path / "history" / f"file{self.files}.json.gz"
        local.parent.mkdir(exist_ok=True)
        local.write_bytes(data)
        return key

    def invoke(self, *keys: str) -> dict[str, Any]:
        current.reset()  # each invocation may be a new container
        return handler.lambda_handler(s3_event(BUCKET, *keys), None)

    def alerts(self) -> list[str]:
        """The titles of the correlation alerts Slack received, with the ratio colons Slack text uses
        against link unfurling ("arn\u2236aws") read back as colons."""
        return [post["blocks"][0]["text"]["text"].replace("\u2236", ":") for post in self.slack.posts]

    def replay_titles(self, workers: str = "2") -> list[str]:
        """The titles of the correlation alerts ``replay`` computes over the same objects."""
        from tattletail.commands import main

        out, err = io.StringIO(), io.StringIO()
        code = main(["replay", "--config", str(self.config_path), "--format", "jsonl", "--workers", workers,
                     str(self.tmp_path / "history")], out=out, err=err)
        assert code == 0, err.getvalue()
        rows = [json.loads(line) for line in out.getvalue().splitlines()]
        return [r["match"]["title"] for r in rows if r["rule"] == "Console brute force"]

    def same_as_replay(self) -> bool:
        titles, alerts = self.replay_titles(), self.alerts()
        return len(titles) == len(alerts) and all(t in a for t, a in zip(titles, alerts, strict=True))


@pytest.fixture
def world(aws: None, tmp_path: Path, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> World:
    return World(tmp_path, slack, monkeypatch)


def spread(records: list[dict[str, Any]], parts: int, seed: int) -> list[list[dict[str, Any]]]:
    """The records shuffled and dealt over ``parts`` files, as CloudTrail's delivery mixes them."""
    shuffled = records[:]
    random.Random(seed).shuffle(shuffled)
    return [shuffled[i::parts] for i in range(parts)]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_one_window_over_several_objects_and_invocations_fires_exactly_once(world: World, seed: int) -> None:
    records = [failure(n, START + timedelta(seconds=40 * n)) for n in range(THRESHOLD + 2)]
    keys = [world.put(part) for part in spread(records, 3, seed)]
    for key in keys:
        world.invoke(key)
    for key in keys:  # every notification again (duplicates, retries): nothing more
        world.invoke(key)
    alerts = world.alerts()
    assert len(alerts) == 1
    assert "Console brute force" in alerts[0] and "alice" in alerts[0]
    text = json.dumps(world.slack.posts[0])
    assert "2026-11-20T10:00:00Z to 2026-11-20T10:05:00Z" in text and "gte 5" in text
    assert world.same_as_replay()


def test_records_seen_twice_count_once(world: World) -> None:
    records = [failure(n, START + timedelta(seconds=10 * n)) for n in range(THRESHOLD - 1)]
    key = world.put(records)
    again = world.put(records)  # the same records in a second file
    world.invoke(key)
    world.invoke(again)
    world.invoke(key)
    assert world.alerts() == []


class AtomicRequests:
    """A DynamoDB client whose each request is atomic, as the service's are: moto's in-process backend
    applies an update as read-modify-write without a lock, which threads could interleave. Invocations
    still interleave freely *between* requests, which is what the test is about."""

    lock = threading.Lock()

    def __init__(self, client: Any) -> None:
        self.client = client

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.client, name)
        if not callable(method):  # client.exceptions, client.meta
            return method

        def call(*args: Any, **kwargs: Any) -> Any:
            with self.lock:
                return method(*args, **kwargs)
        return call


@pytest.mark.parametrize("seed", [7, 8])
def test_two_concurrent_invocations_fire_once_and_lose_no_count(world: World, seed: int,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from tattletail import aws

    # each invocation holds part of the window (and a duplicate); only together they reach the threshold
    records = [failure(n, START + timedelta(seconds=30 * n)) for n in range(THRESHOLD)]
    parts = spread(records, 4, seed)
    keys = [world.put(part) for part in parts]
    real_client = aws.client

    def atomic_dynamodb(service: str, *args: Any, **kwargs: Any) -> Any:
        """Every DynamoDB client the code asks for (the windows' and the delivery claims', whatever their
        timeout tier) makes its requests one at a time."""
        found = real_client(service, *args, **kwargs)
        return AtomicRequests(found) if service == "dynamodb" else found

    monkeypatch.setattr(aws, "client", atomic_dynamodb)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def invoke(mine: list[str]) -> None:
        try:
            barrier.wait()
            for key in mine:
                handler.lambda_handler(s3_event(BUCKET, key), None)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    current.reset()
    halves = [keys[0::2] + keys[1:2], keys[1::2] + keys[0:1]]
    threads = [threading.Thread(target=invoke, args=(halves[i],)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(world.alerts()) == 1
    item = world.dynamodb.scan(TableName="state")["Items"]
    window = [i for i in item if i["pk"]["S"].startswith("correlation|")]
    fired = [w for w in window if len(w.get("c", {}).get("SS", [])) == THRESHOLD]
    # the fired window, and the two overlapping it (the other series), all closed
    assert len(fired) == 1 and len(window) == 3 and all("done_at" in w for w in window)


def test_one_below_the_threshold_fires_nothing(world: World) -> None:
    records = [failure(n, START + timedelta(seconds=50 * n)) for n in range(THRESHOLD - 1)]
    for part in spread(records, 2, 3):
        world.invoke(world.put(part))
    assert world.alerts() == []
    assert world.same_as_replay()


def test_events_spread_over_the_timespan_do_not_combine(world: World) -> None:
    inside = [failure(n, START + timedelta(seconds=n)) for n in range(THRESHOLD - 1)]
    outside = [failure(99, START + timedelta(minutes=5))]                    # 5m after the first of inside
    before = [failure(98, START + timedelta(seconds=THRESHOLD - 2) - timedelta(minutes=5))]  # 5m before the last
    for part in spread(inside + outside + before, 3, 5):
        world.invoke(world.put(part))
    assert world.alerts() == []
    assert world.same_as_replay()


def test_groups_do_not_combine(world: World) -> None:
    records = [failure(n, START + timedelta(seconds=n), user="alice" if n % 2 else "bob")
               for n in range(2 * THRESHOLD - 2)]
    world.invoke(world.put(records))
    assert world.alerts() == []


def test_a_late_record_inside_the_lateness_bound_still_counts(world: World) -> None:
    records = [failure(n, START + timedelta(seconds=20 * n)) for n in range(THRESHOLD)]
    world.now = START + timedelta(minutes=6)
    world.invoke(world.put(records[:-1]))
    world.now = START + timedelta(minutes=5 + 29)   # the window ended 29 minutes ago; lateness is 30m
    world.invoke(world.put(records[-1:]))
    assert len(world.alerts()) == 1
    assert world.same_as_replay()  # in history every record is in time


def test_a_record_later_than_the_lateness_bound_is_not_counted(world: World, caplog) -> None:
    records = [failure(n, START + timedelta(seconds=20 * n)) for n in range(THRESHOLD)]
    world.now = START + timedelta(minutes=6)
    world.invoke(world.put(records[:-1]))
    world.now = START + timedelta(minutes=5 + 31)
    world.invoke(world.put(records[-1:]))
    assert world.alerts() == []
    assert "correlation_record_late" in caplog.text


def test_without_a_state_table_windows_hold_within_one_invocation(world: World, monkeypatch) -> None:
    monkeypatch.delenv("TATTLETAIL_STATE_TABLE")
    records = [failure(n, START + timedelta(seconds=20 * n)) for n in range(THRESHOLD)]
    parts = spread(records, 2, 1)
    first, second = world.put(parts[0]), world.put(parts[1])
    world.invoke(first)
    world.invoke(second)
    assert world.alerts() == []             # split over invocations: not combined without a table
    world.invoke(first, second)
    assert len(world.alerts()) == 1         # in one invocation: combined


def test_replay_gives_the_same_alerts_whatever_the_workers(world: World) -> None:
    from tattletail.commands import main

    records = [failure(n, START + timedelta(seconds=40 * n)) for n in range(THRESHOLD + 1)]
    records += [failure(n, START + timedelta(seconds=n), user="bob") for n in range(THRESHOLD - 1)]
    keys = [world.put(part) for part in spread(records, 4, 11)]
    for key in keys:
        world.invoke(key)
    lambda_alerts = world.alerts()
    assert len(lambda_alerts) == 1
    outputs = []
    for workers in ("1", "3"):
        out = io.StringIO()
        err = io.StringIO()
        code = main(["replay", "--config", str(world.config_path), "--format", "jsonl",
                     "--workers", workers, str(world.tmp_path / "history")], out=out, err=err)
        assert code == 0, err.getvalue()
        rows = [json.loads(line) for line in out.getvalue().splitlines()]
        outputs.append([r for r in rows if r["rule"] == "Console brute force"])
    assert outputs[0] == outputs[1]
    assert len(outputs[0]) == 1
    fired = outputs[0][0]["match"]
    assert fired["title"] in lambda_alerts[0]
    assert fired["count"] == THRESHOLD and fired["first_event_time"] == "2026-11-20T10:00:00Z"


def test_a_failed_delivery_keeps_the_window_open_and_the_retry_sends_once(world: World) -> None:
    from tattletail.errors import InvocationFailed

    records = [failure(n, START + timedelta(seconds=20 * n)) for n in range(THRESHOLD)]
    key = world.put(records)
    world.slack.answer = lambda n: 503  # Slack down for the whole first invocation; no dead-letter store
    with pytest.raises(InvocationFailed):
        world.invoke(key)
    assert world.alerts() == []
    world.slack.answer = lambda n: 200
    world.invoke(key)                                    # Lambda's retry of the same object
    world.invoke(world.put([failure(50, START + timedelta(seconds=200))]))  # more of the window, later
    assert len(world.alerts()) == 1


def test_an_alert_fired_but_not_delivered_is_delivered_by_a_retry_after_the_lateness_bound(world: World) -> None:
    from tattletail.errors import InvocationFailed

    records = [failure(n, START + timedelta(seconds=20 * n)) for n in range(THRESHOLD)]
    key = world.put(records)
    world.slack.answer = lambda n: 503  # Slack down for the whole first invocation; no dead-letter store
    with pytest.raises(InvocationFailed):
        world.invoke(key)
    assert world.alerts() == []
    world.slack.answer = lambda n: 200
    world.now = START + timedelta(minutes=5 + 31)   # Lambda's retry comes after the lateness bound (30m)
    world.invoke(key)
    world.invoke(key)                                # and again: nothing more
    alerts = world.alerts()
    assert len(alerts) == 1 and "5 events" in alerts[0]
    window = [i for i in world.dynamodb.scan(TableName="state")["Items"] if i["pk"]["S"].startswith("correlation|")]
    assert len(window) == 3 and all("done_at" in w for w in window)  # the fired window and the two overlapping it


def test_a_late_record_of_an_undelivered_window_fires_it_once_whatever_object_brings_it(world: World) -> None:
    from tattletail.errors import InvocationFailed

    records = [failure(n, START + timedelta(seconds=20 * n)) for n in range(THRESHOLD + 2)]
    first, other = world.put(records[:THRESHOLD]), world.put(records[THRESHOLD:])
    world.slack.answer = lambda n: 503
    with pytest.raises(InvocationFailed):
        world.invoke(first)
    world.slack.answer = lambda n: 200
    world.now = START + timedelta(hours=2)
    world.invoke(other)                              # a late file of the same window, not the retry
    world.invoke(first)
    assert len(world.alerts()) == 1


def test_records_without_the_group_value_are_reported_by_the_lambda(world: World, caplog) -> None:
    records = [failure(n, START + timedelta(seconds=n)) for n in range(3)]
    for record in records:
        del record["userIdentity"]["arn"]
    result = world.invoke(world.put(records))
    assert result["correlation_unplaced"] == 3
    assert "correlation_records_unplaced" in caplog.text


def test_a_burst_across_a_window_edge_fires_once(world: World) -> None:
    edge = START + timedelta(minutes=5)
    records = [failure(n, edge - timedelta(seconds=2) + timedelta(seconds=n)) for n in range(THRESHOLD)]
    for part in spread(records, 2, 11):
        world.invoke(world.put(part))
    assert len(world.alerts()) == 1
    assert world.same_as_replay()


@pytest.mark.parametrize("shift", range(0, 300, 20))
def test_a_burst_within_half_the_timespan_fires_once_wherever_the_edges_fall(world: World, shift: int) -> None:
    records = [failure(n, START + timedelta(seconds=shift + 30 * n)) for n in range(THRESHOLD)]  # over 2 minutes
    world.invoke(world.put(records))
    assert len(world.alerts()) == 1
