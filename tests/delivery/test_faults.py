"""Fault injection through the real handler: every match is delivered exactly once or kept as a dead
letter, and running the same event again delivers nothing new.

moto stands in for S3, SNS, SQS (the dead letter queue) and DynamoDB (the state table); a local HTTP
server whose answers each test scripts stands in for Slack. Throttling and DynamoDB errors are injected
into the real boto3 clients.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tattletail import aws, handler
from tattletail import commands as cli
from tattletail.config import loader as config
from tattletail.delivery import retry
from tattletail.delivery.state import delivery_key
from tattletail.engine import Engine
from tattletail.inputs.logfile import iter_file
from tests.helpers import FakeSlack, corpus_files, log_bytes, s3_event

BUCKET = "trail"
KEY = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/02/111122223333_CloudTrail_us-east-1_a.json.gz"


def record(n: int, name: str = "CreateUser", who: str = "alice") -> dict[str, Any]:
    return {"eventID": f"00000000-0000-4000-8000-{n:012d}",
            "eventTime": f"2026-11-02T09:{n // 60 % 60:02d}:{n % 60:02d}Z",
            "recipientAccountId": "111122223333", "eventSource": "iam.amazonaws.com", "eventName": name,
            "awsRegion": "us-east-1", "userIdentity": {"type": "IAMUser", "userName": who},
            "requestParameters": {"userName": f"user{n}"}}


class Context:
    def __init__(self, seconds: float) -> None:
        import time

        self.end = time.monotonic() + seconds

    def get_remaining_time_in_millis(self) -> int:
        import time

        return int((self.end - time.monotonic()) * 1000)


class World:
    def __init__(self, tmp_path: Path, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> None:
        self.s3 = boto3.client("s3", region_name="us-east-1")
        self.s3.create_bucket(Bucket=BUCKET)
        self.sns = boto3.client("sns", region_name="us-east-1")
        self.topic = self.sns.create_topic(Name="alerts")["TopicArn"]
        self.sqs = boto3.client("sqs", region_name="us-east-1")
        self.tap = self.sqs.create_queue(QueueName="tap")["QueueUrl"]
        tap_arn = self.sqs.get_queue_attributes(QueueUrl=self.tap,
                                                AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.sns.subscribe(TopicArn=self.topic, Protocol="sqs", Endpoint=tap_arn)
        self.dlq = self.sqs.create_queue(QueueName="dead-letters")["QueueUrl"]
        self.dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        self.dynamodb.create_table(TableName="state", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                                   AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                                   BillingMode="PAY_PER_REQUEST")
        self.slack = slack
        self.sleeps: list[float] = []
        monkeypatch.setattr(retry, "_sleep", lambda s: self.sleeps.append(s))  # waits are recorded, not slept
        self.config_path = tmp_path / "tattletail.toml"
        monkeypatch.setenv("TATTLETAIL_CONFIG", str(self.config_path))
        monkeypatch.setenv("TATTLETAIL_STATE_TABLE", "state")
        monkeypatch.setenv("TATTLETAIL_DLQ_URL", self.dlq)
        self.write_config()

    def write_config(self, rules: str | None = None, threshold: int = 20) -> None:
        self.config_path.write_text((rules or '''
[[rule]]
name = "Create User"
jq_match = 'select(.eventName == "CreateUser") | "username: \\(.requestParameters.userName)"'
destinations = ["Slack", "SNS"]
''') + f'''
[[destination]]
id = "Slack"
type = "slack_webhook"
webhook_url = "{self.slack.url()}"
timeout = 0.3
digest_threshold = {threshold}

[[destination]]
id = "SNS"
type = "sns"
sns_arn = "{self.topic}"
digest_threshold = {threshold}
''')

    def put(self, records: list[dict[str, Any]], key: str = KEY) -> dict[str, Any]:
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=log_bytes(records))
        return s3_event(BUCKET, key)

    def sns_messages(self) -> list[dict[str, Any]]:
        out = []
        while True:
            got = self.sqs.receive_message(QueueUrl=self.tap, MaxNumberOfMessages=10).get("Messages", [])
            if not got:
                return out
            for m in got:
                self.sqs.delete_message(QueueUrl=self.tap, ReceiptHandle=m["ReceiptHandle"])
                out.append(json.loads(json.loads(m["Body"])["Message"]))

    def dead_letters(self) -> list[dict[str, Any]]:
        out = []
        while True:
            got = self.sqs.receive_message(QueueUrl=self.dlq, MaxNumberOfMessages=10,
                                           VisibilityTimeout=0).get("Messages", [])
            fresh = [m for m in got if m["MessageId"] not in {o["_id"] for o in out}]
            if not fresh:
                return out
            out += [dict(json.loads(m["Body"]), _id=m["MessageId"]) for m in fresh]

    def state(self) -> Counter[str]:
        items = self.dynamodb.scan(TableName="state")["Items"]
        return Counter(item["status"]["S"] for item in items)


@pytest.fixture
def world(aws: None, tmp_path: Path, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> World:
    return World(tmp_path, slack, monkeypatch)


def slack_annotations(world: World) -> list[str]:
    return [b["text"]["text"] for p in world.slack.posts for b in p["blocks"]
            if b["type"] == "section" and "text" in b and b["text"]["text"].startswith("*Match*")]


@pytest.mark.parametrize("answers", [
    [500, 503],                  # server errors, retried
    [(429, 2)],                  # rate limited: Retry-After honoured
    ["hang"],                    # no answer before the client's timeout
    ["drop"],                    # connection closed without an answer
], ids=["5xx", "429", "timeout", "dropped"])
def test_transient_slack_failures_are_retried_and_delivered_once(world: World, answers: list[Any]) -> None:
    world.slack.statuses = list(answers)
    event = world.put([record(1), record(2, "ListUsers")])
    result = handler.lambda_handler(event, Context(60))
    assert (result["deliveries"], result["dead_lettered"]) == (2, 0)
    assert slack_annotations(world) == ["*Match*\n```username: user1```"]
    assert len(world.sns_messages()) == 1
    if answers == [(429, 2)]:
        assert world.sleeps == [2.0]
    assert world.state() == {"delivered": 2}
    again = handler.lambda_handler(event, Context(60))  # the same event again: nothing new
    assert (again["deliveries"], again["duplicates"]) == (0, 2)
    assert len(world.slack.posts) == 1 and world.sns_messages() == []


def test_permanent_slack_error_is_not_retried_and_becomes_a_dead_letter(world: World) -> None:
    world.slack.statuses = [404]
    event = world.put([record(1)])
    result = handler.lambda_handler(event, Context(60))  # kept as a letter: the invocation succeeds
    assert (result["deliveries"], result["dead_lettered"]) == (1, 1) and world.slack.requests == 1
    (letter,) = world.dead_letters()
    assert (letter["rule"], letter["destination"], letter["kind"]) == ("Create User", "Slack", "alert")
    assert letter["records"] == [record(1)] and letter["error"].startswith('destination "Slack"')
    assert "HTTP 404" in letter["error"] and "SECRET" not in json.dumps(letter)
    assert letter["rendered"]["blocks"][0]["type"] == "header"
    again = handler.lambda_handler(event, Context(60))
    assert (again["deliveries"], again["dead_lettered"], again["duplicates"]) == (0, 0, 2)
    assert world.slack.requests == 1  # not tried again until redriven

    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["redrive", "--config", str(world.config_path), "--state-table", "state", world.dlq], out, err) == 0
    assert out.getvalue().strip() == "1 resent, 0 already delivered, 0 kept"
    assert slack_annotations(world) == ["*Match*\n```username: user1```"] and world.dead_letters() == []
    assert cli.main(["redrive", "--config", str(world.config_path), world.dlq], io.StringIO(), err) == 0
    assert handler.lambda_handler(event, Context(60))["deliveries"] == 0 and len(world.slack.posts) == 1


def test_out_of_time_everything_is_kept_and_nothing_lost(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handler, "retry_policy", retry.RetryPolicy(attempts=4, base=0.01, reserve=5.0))

    class Spent(retry.Deadline):
        """3 s when the invocation starts (the reserve is then at most a quarter: 0.75 s), 0.1 s once the
        object is read: reading took the time, and less is left than the reserve."""

        looked = 0

        def remaining(self) -> float:
            Spent.looked += 1
            return 3.0 if Spent.looked == 1 else 0.1

    monkeypatch.setattr(handler, "Deadline", Spent)
    event = world.put([record(1), record(2)])
    result = handler.lambda_handler(event, Context(3))
    assert (result["deliveries"], result["dead_lettered"]) == (0, 4)
    letters = world.dead_letters()
    assert len(letters) == 4 and {x["error"] for x in letters} == {"not attempted: the invocation ran out of time"}
    assert world.slack.requests == 0


def fail_first(monkeypatch: pytest.MonkeyPatch, owner: type, method: str, *, times: int, code: str,
               status: int) -> None:
    """Make ``owner``'s real boto3 client raise a ClientError ``code`` on its first ``times`` calls of
    ``method`` (throttling, an AWS-side error); every other call goes to the real (moto) client."""
    real = owner.client.fget  # type: ignore[attr-defined]
    remaining = [times]

    class Failing:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def __getattr__(self, name: str) -> Any:
            attr = getattr(self.inner, name)
            if name != method:
                return attr

            def call(**kwargs: Any) -> Any:
                if remaining[0] > 0:
                    remaining[0] -= 1
                    raise ClientError({"Error": {"Code": code, "Message": "injected"},
                                       "ResponseMetadata": {"HTTPStatusCode": status}}, method)
                return attr(**kwargs)
            return call

    monkeypatch.setattr(owner, "client", property(lambda self: Failing(real(self))))


def test_sns_throttling_is_retried(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from tattletail.destinations.sns import Sns

    fail_first(monkeypatch, Sns, "publish", times=2, code="Throttling", status=400)
    event = world.put([record(1)])
    assert handler.lambda_handler(event, Context(60))["deliveries"] == 2
    assert len(world.sns_messages()) == 1 and len(world.sleeps) == 2


def test_dynamodb_errors_fail_the_invocation_and_its_retry_delivers_once(world: World,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from tattletail.delivery.state import DynamoState

    fail_first(monkeypatch, DynamoState, "put_item", times=1, code="InternalServerError", status=500)
    event = world.put([record(1)])
    with pytest.raises(Exception, match='rule "Create User" -> destination "Slack" .*not sent: state table state'):
        handler.lambda_handler(event, Context(60))
    assert world.slack.posts == [] and len(world.sns_messages()) == 1  # the other destination went on
    result = handler.lambda_handler(event, Context(60))  # Lambda's retry
    assert (result["deliveries"], result["duplicates"]) == (1, 1) and len(world.slack.posts) == 1
    assert world.dead_letters() == []


def test_a_flood_becomes_one_digest_per_destination(world: World) -> None:
    world.write_config(threshold=5)
    records = [record(n, who=("alice" if n % 3 else "bob")) for n in range(40)]
    event = world.put(records)
    result = handler.lambda_handler(event, Context(60))
    assert (result["deliveries"], result["digests"], result["alerts_delivered"]) == (2, 2, 80)
    (post,) = world.slack.posts
    assert post["blocks"][0]["text"]["text"] == "\U0001f514 40 × Create User"
    text = json.dumps(post, ensure_ascii=False)
    assert "26 × `alice`" in text and "14 × `bob`" in text and "40 × `CreateUser`" in text
    (message,) = world.sns_messages()
    assert message["digest"]["count"] == 40 and message["name"] == "Create User"
    assert len(message["digest"]["first"]) == 5
    again = world.put(records + [record(99)], key=KEY.replace("_a.", "_b."))  # the same records in another file
    result = handler.lambda_handler(again, Context(60))
    assert (result["deliveries"], result["duplicates"]) == (2, 80) and len(world.slack.posts) == 2
    assert "username: user99" in json.dumps(world.slack.posts[-1])  # only the new one, on its own


def test_bad_input_never_stops_the_other_objects(world: World, caplog) -> None:
    good = KEY
    bodies = {
        "corrupt.json.gz": b"\x1f\x8b\x08\x00garbage",
        "truncated.json.gz": log_bytes([record(1)])[:-12],
        "notcloudtrail.json": b'{"hello": "world"}',
        "recordsnotlist.json": b'{"Records": {"a": 1}}',
        "empty.json.gz": b"",
        "mixed.json": json.dumps({"Records": [1, "x", record(7), None]}).encode(),
    }
    for key, body in bodies.items():
        world.s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    world.s3.put_object(Bucket=BUCKET, Key=good, Body=log_bytes([record(1), record(2)]))
    event = s3_event(BUCKET, *bodies, "missing.json.gz", good)
    event["Records"].insert(0, {"eventSource": "aws:s3", "unexpected": True})
    caplog.set_level("INFO", logger="tattletail")
    result = handler.lambda_handler(event, Context(60))
    assert result["alerts_delivered"] == 2 * 3  # record 7 from mixed.json, records 1 and 2 from the good file
    log = caplog.text
    for needle in ("corrupt.json.gz: cannot decompress", "truncated.json.gz: cannot decompress",
                   "notcloudtrail.json: not a CloudTrail log file", "recordsnotlist.json: Records is not a list",
                   "empty.json.gz: empty file", "missing.json.gz", "no such object",
                   "Records[0] is not an S3 notification (keys seen: ['eventSource', 'unexpected'])",
                   "record is a JSON number, not an object"):
        assert needle in log, needle


def test_access_denied_fails_the_invocation_after_the_rest(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    event = world.put([record(1)])
    real = aws.client("s3")

    class Denying:
        def get_object(self, **kwargs: Any) -> Any:
            if kwargs["Key"] == "secret.json.gz":
                raise ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"},
                                   "ResponseMetadata": {"HTTPStatusCode": 403}}, "GetObject")
            return real.get_object(**kwargs)

    monkeypatch.setattr(handler, "_reader", lambda dispatcher: Denying())  # the handler's reading client
    event["Records"].insert(0, s3_event(BUCKET, "secret.json.gz")["Records"][0])
    with pytest.raises(Exception, match="s3://trail/secret.json.gz: cannot read: .*AccessDenied"):
        handler.lambda_handler(event, Context(60))
    assert len(world.slack.posts) == 1  # the readable object was delivered before the invocation failed


def test_a_very_large_file_streams_through(world: World) -> None:
    records = [record(n, "DescribeInstances") for n in range(30_000)] + [record(30_001)]
    event = world.put(records)
    result = handler.lambda_handler(event, Context(600))
    assert (result["matches"], result["deliveries"]) == (1, 2)


@pytest.mark.skipif(not corpus_files(), reason="../shared/corpus is absent")
def test_whole_corpus_twice_with_a_flaky_destination(world: World) -> None:
    rules = '''
[[rule]]
name = "Root activity"
jq_match = 'select(.userIdentity.type == "Root") | .eventName'
destinations = ["Slack", "SNS"]

[[rule]]
name = "IAM changes"
jq_match = 'select(.eventSource == "iam.amazonaws.com" and .readOnly == false)'
destinations = ["Slack"]

[[rule]]
name = "Sessions"
jq_match = 'select(.eventName | IN("StartSession", "TerminateSession", "ResumeSession"))'
destinations = ["Slack", "SNS"]
'''
    world.write_config(rules)
    # every 3rd answer a 500, every 5th a 429, every 7th hangs, one in 11 is a permanent 400
    world.slack.hang_seconds = 0.4
    world.slack.answer = lambda n: (400 if n % 11 == 0 else "hang" if n % 7 == 0 else (429, 0) if n % 5 == 0
                                    else 500 if n % 3 == 0 else 200)
    keys = []
    for n, path in enumerate(corpus_files()):
        key = f"AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/02/{n:02d}_{path.name}"
        world.s3.put_object(Bucket=BUCKET, Key=key, Body=path.read_bytes())
        keys.append(key)
    event = s3_event(BUCKET, *keys)
    loaded = config.loads(world.config_path.read_text())
    engine = Engine(loaded.rules)
    expected = {delivery_key(m.record, m.rule.name, d) for path in corpus_files() for rec in iter_file(str(path))
                for m in engine.evaluate(rec) for d in m.rule.destinations}

    first = handler.lambda_handler(event, Context(900))
    letters = world.dead_letters()
    lettered = [k for letter in letters for k in letter["keys"]]
    state = world.state()
    assert first["alerts_delivered"] + first["dead_lettered"] == len(expected)
    assert state["delivered"] == first["alerts_delivered"] and state["dead_lettered"] == first["dead_lettered"]
    assert set(lettered) <= expected and len(lettered) == len(set(lettered)) == first["dead_lettered"]
    bodies = [json.dumps(p, sort_keys=True) for p in world.slack.posts]
    assert len(bodies) == len(set(bodies))  # no message delivered twice
    posts = len(world.slack.posts)
    sns = len(world.sns_messages())
    assert posts + sns == first["deliveries"]

    second = handler.lambda_handler(event, Context(900))
    assert (second["deliveries"], second["dead_lettered"]) == (0, 0)
    assert second["duplicates"] == len(expected) + first["duplicates"]
    assert len(world.slack.posts) == posts and world.sns_messages() == []


def test_dead_letters_under_an_s3_prefix_and_their_redrive(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TATTLETAIL_DLQ_URL")
    world.s3.create_bucket(Bucket="letters")
    monkeypatch.setenv("TATTLETAIL_DLQ_S3", "s3://letters/tattletail/dead")
    world.slack.statuses = [403]
    event = world.put([record(1)])
    assert handler.lambda_handler(event, Context(60))["dead_lettered"] == 1
    (key,) = [o["Key"] for o in world.s3.list_objects_v2(Bucket="letters")["Contents"]]
    assert key.startswith("tattletail/dead/") and key.endswith(".json")
    letter = json.loads(world.s3.get_object(Bucket="letters", Key=key)["Body"].read())
    assert letter["destination"] == "Slack" and "HTTP 403" in letter["error"]
    out = io.StringIO()
    assert cli.main(["redrive", "--config", str(world.config_path), "--state-table", "state",
                     "s3://letters/tattletail/dead"], out, io.StringIO()) == 0
    assert out.getvalue().strip() == "1 resent, 0 already delivered, 0 kept"
    assert world.s3.list_objects_v2(Bucket="letters").get("KeyCount") == 0 and len(world.slack.posts) == 1


def test_redrive_keeps_a_letter_that_fails_again(world: World) -> None:
    world.slack.statuses = [404, 404]
    world.put([record(1)])
    handler.lambda_handler(s3_event(BUCKET, KEY), Context(60))
    err = io.StringIO()
    assert cli.main(["redrive", "--config", str(world.config_path), "--state-table", "state", world.dlq],
                    io.StringIO(), err) == 1
    assert "kept: letter for rule 'Create User' -> destination 'Slack'" in err.getvalue()
    assert "HTTP 404" in err.getvalue()
    assert len(world.dead_letters()) == 1
