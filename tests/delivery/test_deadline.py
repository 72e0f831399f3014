"""The deadline governs everything, and outcomes say what really happened.

- every network call is capped by the time the invocation has left, less the reserve: a Slack that
  never answers cannot carry the invocation past its end, whatever the destination's own timeout;
  AWS clients get connect and read timeouts that fit, and botocore's own retries are counted in;
- reading a large object stops while there is time to deliver what was found; the object is then a
  retryable failure that says how far reading got, and with a state table its retry sends only the
  rest;
- an S3 Batch Operations task whose object does not exist is a ``PermanentFailure`` naming it.
"""

from __future__ import annotations

import io
import json
import math
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from tattletail import aws as aws_clients
from tattletail import handler
from tattletail.config import loader
from tattletail.delivery import retry
from tattletail.delivery.dispatch import Dispatcher
from tattletail.delivery.report import Report
from tattletail.delivery.state import DynamoState
from tattletail.destinations.slack import SlackWebhook
from tattletail.destinations.sns import Sns
from tattletail.engine import Engine
from tattletail.errors import InvocationFailed, RetryableDeliveryError
from tattletail.pipeline import process_stream
from tests.helpers import FakeSlack, log_bytes, s3_event

BUCKET = "trail"
KEY = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/02/111122223333_CloudTrail_us-east-1_big.json.gz"


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Context:
    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def get_remaining_time_in_millis(self) -> int:
        return int((self.end - time.monotonic()) * 1000)


def record(n: int, name: str = "CreateUser") -> dict[str, Any]:
    return {"eventID": f"00000000-0000-4000-8000-{n:012d}", "eventTime": "2026-11-02T09:00:00Z",
            "recipientAccountId": "111122223333", "eventSource": "iam.amazonaws.com", "eventName": name,
            "awsRegion": "us-east-1", "userIdentity": {"type": "IAMUser", "userName": "alice"},
            "requestParameters": {"userName": f"user{n}"}}


CONFIG = '''
[[rule]]
name = "Create User"
jq_match = 'select(.eventName == "CreateUser") | "username: \\(.requestParameters.userName)"'
destinations = ["Slack"]

[[destination]]
id = "Slack"
type = "slack_webhook"
webhook_url = "{url}"
digest_threshold = 0
'''


# Each try gets the time left, less the reserve.

def test_each_try_is_given_the_time_left_less_the_reserve_and_none_starts_without_it() -> None:
    clock = Clock()
    deadline = retry.Deadline.after(10.0, clock)
    budgets: list[float | None] = []

    def send(budget: float | None) -> None:
        budgets.append(budget)
        clock.now += 3.0  # each try takes 3 s and fails
        raise RetryableDeliveryError("busy", retry_after=0.5)

    def sleep(seconds: float) -> None:
        clock.now += seconds

    with pytest.raises(RetryableDeliveryError, match="busy"):
        retry.call(send, retry.RetryPolicy(attempts=10, reserve=2.0), deadline, sleep)
    assert budgets == [8.0, 4.5, 1.0]  # 10-2; 10-3-0.5-2; then no time for a wait and a try
    assert retry.call(lambda budget: budget, retry.RetryPolicy(), retry.Deadline()) is None  # no deadline
    with pytest.raises(RetryableDeliveryError, match="not attempted: the invocation ran out of time"):
        retry.call(lambda budget: budget, retry.RetryPolicy(reserve=5.0), retry.Deadline.after(5.1, clock))


def test_slack_timeouts_are_capped_by_the_budget_of_the_try() -> None:
    class Pool:  # urllib3.PoolManager's request(), as SlackWebhook uses it
        def __init__(self) -> None:
            self.timeouts: list[Any] = []

        def request(self, method: str, url: str, timeout: Any, **kwargs: Any) -> Any:
            self.timeouts.append((timeout.connect_timeout, timeout.read_timeout))
            return type("Response", (), {"status": 200, "data": b"ok", "headers": {}})()

    pool = Pool()
    slack = SlackWebhook("Slack", "https://hooks.slack.com/services/T/B/X", timeout=10.0, http=pool)  # type: ignore[arg-type]
    for budget in (None, 60.0, 8.0, 0.5):
        slack.deliver({"text": "hi"}, budget)
    assert pool.timeouts == [(10.0, 10.0), (10.0, 10.0), (4.0, 4.0), (0.25, 0.25)]


def test_aws_clients_get_connect_and_read_timeouts_that_fit_in_the_time(aws: None) -> None:
    assert [aws_clients.tier(w) for w in (900, 61, 20, 3, 0.1)] == [60.0, 30.0, 8.0, 1.0, 0.25]
    assert aws_clients.tier(12.0, attempts=2) == 2.0  # two tries, each a connect and a read, and a backoff
    sns = boto3.client("sns", region_name="us-east-1")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    destination = Sns("SNS", topic)
    destination.deliver({"Message": "one", "Subject": "s"}, 5.0)
    destination.deliver({"Message": "two", "Subject": "s"})
    timed = aws_clients._clients[("sns", "us-east-1", 2.0, 1)]  # one client per (service, region, tier, tries)
    untimed = aws_clients._clients[("sns", "us-east-1", None, 1)]
    assert (timed.meta.config.connect_timeout, timed.meta.config.read_timeout) == (2.0, 2.0)
    assert timed.meta.config.retries["total_max_attempts"] == 1  # retry.call does the retrying
    assert untimed.meta.config.read_timeout == 60  # botocore's default, outside Lambda
    state = DynamoState("state", time_left=lambda: 12.0)
    assert state.client.meta.config.read_timeout == 2.0
    assert DynamoState("state").client.meta.config.read_timeout == 60


def test_a_slack_that_never_answers_cannot_carry_the_invocation_past_its_end(
        aws: None, tmp_path: Path, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=log_bytes([record(1)]))
    config = tmp_path / "tattletail.toml"
    config.write_text(CONFIG.format(url=slack.url()))  # Slack's own timeout: the default 10 s
    monkeypatch.setenv("TATTLETAIL_CONFIG", str(config))
    monkeypatch.setattr(handler, "retry_policy", retry.RetryPolicy(attempts=4, base=0.01, cap=0.05, reserve=1.0))
    slack.answer = lambda n: "hang"
    slack.hang_seconds = 12.0
    context = Context(4.0)
    with pytest.raises(InvocationFailed, match='destination "Slack" .*(ReadTimeout|ran out of time)'):
        handler.lambda_handler(s3_event(BUCKET, KEY), context)
    assert context.get_remaining_time_in_millis() > 0  # ended before its deadline
    assert slack.requests >= 2  # the first try's timeout left time for another


# Reading watches the clock.

@pytest.fixture
def state_table(aws: None) -> Any:
    client = boto3.client("dynamodb", region_name="us-east-1")
    client.create_table(TableName="state", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                        BillingMode="PAY_PER_REQUEST")
    return client


def test_reading_stops_in_time_reports_how_far_it_got_and_the_retry_sends_only_the_rest(
        state_table: Any, slack: FakeSlack, caplog: pytest.LogCaptureFixture) -> None:
    config = loader.loads(CONFIG.format(url=slack.url()))
    engine = Engine(config.rules)
    body = log_bytes([record(n) for n in range(200)])
    clock = Clock()
    dispatcher = Dispatcher(config, state=DynamoState("state", state_table, time_left=lambda: 100.0),
                            policy=retry.RetryPolicy(reserve=10.0), deadline=retry.Deadline.after(100.0, clock))

    def one_second_per_match(match: Any, index: int) -> None:
        clock.now += 1.0

    caplog.set_level("INFO", logger="tattletail")
    report = process_stream(io.BytesIO(body), Report("s3://trail/big.json.gz"), engine, dispatcher=dispatcher,
                            on_match=one_second_per_match)
    # Reading stops once less than twice the reserve is left: after 81 records (100 s - 81 < 20 s).
    assert report.records == 81 and report.alerts_delivered == 81 and len(slack.posts) == 81
    (failure,) = report.failures
    assert failure.startswith("s3://trail/big.json.gz: not finished in time: 81 records evaluated, ")
    assert "bytes of the object read, the rest not evaluated (19.0 s were left); retry" in failure
    logged = [json.loads(r.getMessage()) for r in caplog.records if "object_incomplete" in r.getMessage()]
    assert logged[0]["records"] == 81 and 0 < logged[0]["bytes_read"] <= len(body)

    retried = Dispatcher(config, state=DynamoState("state", state_table), policy=retry.RetryPolicy(reserve=10.0))
    again = process_stream(io.BytesIO(body), Report("s3://trail/big.json.gz"), engine, dispatcher=retried)
    assert (again.records, again.alerts_delivered, again.duplicates, again.failures) == (200, 119, 81, [])
    texts = [json.dumps(p) for p in slack.posts]
    assert len(slack.posts) == 200 and len(set(texts)) == 200  # each alert once in all


def test_a_short_invocation_still_reads() -> None:
    config = loader.loads(CONFIG.format(url="https://hooks.slack.com/services/T/B/X"))
    clock = Clock()
    dispatcher = Dispatcher(config, policy=retry.RetryPolicy(reserve=10.0), deadline=retry.Deadline.after(8.0, clock))
    assert not dispatcher.stop_reading()  # under the reserve already: reading may take half the time
    clock.now = 4.1
    assert dispatcher.stop_reading()
    unbounded = Dispatcher(config)
    assert not unbounded.stop_reading() and math.isinf(unbounded.deadline.remaining())


def test_an_object_that_cannot_be_finished_fails_the_batch_task_as_temporary(
        aws: None, tmp_path: Path, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=log_bytes([record(n) for n in range(50)]))
    config = tmp_path / "tattletail.toml"
    config.write_text(CONFIG.format(url=slack.url()))
    monkeypatch.setenv("TATTLETAIL_CONFIG", str(config))
    asked = [0]

    def out_of_time_after_20_records(self: Dispatcher) -> bool:
        asked[0] += 1
        return asked[0] > 20

    monkeypatch.setattr(Dispatcher, "stop_reading", out_of_time_after_20_records)
    (result,) = handler.lambda_handler(batch_event(KEY), Context(60.0))["results"]
    assert result["resultCode"] == "TemporaryFailure"
    assert "not finished in time: 20 records evaluated" in result["resultString"]
    assert len(slack.posts) == 20  # what was found was delivered


# S3 Batch Operations: a missing object is not a success.

def batch_event(*keys: str) -> dict[str, Any]:
    return {"invocationSchemaVersion": "2.0", "invocationId": "inv", "job": {"id": "job", "userArguments": {}},
            "tasks": [{"taskId": f"t{n}", "s3Key": key, "s3VersionId": None, "s3Bucket": BUCKET}
                      for n, key in enumerate(keys)]}


def test_a_batch_task_whose_object_does_not_exist_is_a_permanent_failure_naming_it(
        aws: None, tmp_path: Path, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=log_bytes([record(1)]))
    config = tmp_path / "tattletail.toml"
    config.write_text(CONFIG.format(url=slack.url()))
    monkeypatch.setenv("TATTLETAIL_CONFIG", str(config))
    gone = KEY.replace("big", "gone")
    response = handler.lambda_handler(batch_event(KEY, gone), None)
    codes = [(r["taskId"], r["resultCode"]) for r in response["results"]]
    assert codes == [("t0", "Succeeded"), ("t1", "PermanentFailure")]
    assert response["results"][1]["resultString"].startswith(f"s3://{BUCKET}/{gone}: no such object")
    assert "NoSuchKey" in response["results"][1]["resultString"]
    # An S3 notification for an object deleted since is still skipped, not an error of the invocation.
    assert handler.lambda_handler(s3_event(BUCKET, gone), None)["objects"] == 0
