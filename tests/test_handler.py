"""The Lambda entry point end to end, with moto in-process and a local HTTP server for Slack."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from tattletail import handler
from tattletail.config import current
from tattletail.errors import ConfigError, InvocationFailed
from tests.helpers import COMPAT, EVENTS, FakeSlack, log_bytes, s3_event

BUCKET = "trail-bucket"
KEY = "AWSLogs/123456789012/CloudTrail/us-east-1/2021/07/10/123456789012_CloudTrail_us-east-1_20210710T1645Z x.json.gz"


def go_records(source: str = "ours") -> list[dict[str, Any]]:
    """Three IAM records, the second a CreateUser of ``user1``: our own fixture, written to CloudTrail's
    documented shapes, or the Go tool's own end-to-end log file (``../shared/compat``) of the same shape."""
    if source == "ours":
        return json.loads((EVENTS / "logs" / "iam-create-user.json").read_text())["Records"]
    if not COMPAT.is_dir():
        pytest.skip("../shared/compat is absent: the Go tool's own test log is needed for this case")
    return json.loads((COMPAT / "testdata-1.json").read_text())["Records"]


class World:
    """moto resources for one test: the trail bucket, an SNS topic read through SQS, SES."""

    def __init__(self, tmp_path: Path, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> None:
        self.s3 = boto3.client("s3", region_name="us-east-1")
        self.s3.create_bucket(Bucket=BUCKET)
        sns = boto3.client("sns", region_name="us-east-1")
        self.topic = sns.create_topic(Name="cloudtrail-alerts")["TopicArn"]
        self.sqs = boto3.client("sqs", region_name="us-east-1")
        self.queue = self.sqs.create_queue(QueueName="sns-tap")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["QueueArn"])
        sns.subscribe(TopicArn=self.topic, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"])
        boto3.client("ses", region_name="us-east-1").verify_email_identity(EmailAddress="alerts@example.com")
        self.slack = slack
        self.config_path = tmp_path / "tattletail.toml"
        monkeypatch.setenv("TATTLETAIL_CONFIG", str(self.config_path))

    def write_config(self, rules: str, slack_url: str | None = None) -> None:
        self.config_path.write_text(rules + f'''
[[destination]]
id = "Default SNS"
type = "sns"
sns_arn = "{self.topic}"

[[destination]]
id = "Slack Warnings"
type = "slack_webhook"
webhook_url = "{slack_url or self.slack.url()}"

[[destination]]
id = "Email"
type = "ses"
to_emails = ["foo@example.com", "bar@example.com"]
from_email = "alerts@example.com"
''')

    def sns_payloads(self) -> list[dict[str, Any]]:
        messages = self.sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10).get("Messages", [])
        for m in messages:
            self.sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=m["ReceiptHandle"])
        return [json.loads(json.loads(m["Body"])["Message"]) for m in messages]

    def emails(self) -> list[Any]:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.ses.models import ses_backends

        return list(ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages)


GO_RULES = '''
[[rule]]
name = "Create User"
jq_match = 'select(.eventName == "CreateUser") | "username: \\(.responseElements.user.userName)"'
description = "A new IAM user has been created"
destinations = ["Default SNS", "Slack Warnings", "Email"]
'''


@pytest.fixture
def world(aws: None, tmp_path: Path, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> World:
    return World(tmp_path, slack, monkeypatch)


def encoded(key: str) -> str:
    return key.replace(" ", "+")


@pytest.mark.parametrize("source", ["ours", "go-tool"])
def test_go_tool_scenario_one_sns_one_slack_one_email(world: World, source: str) -> None:
    records = go_records(source)
    world.write_config(GO_RULES)
    world.s3.put_object(Bucket=BUCKET, Key=KEY, Body=log_bytes(records))
    event = s3_event(BUCKET, encoded(KEY))

    for run in (1, 2):  # a second invocation in the same container gives the same result
        result = handler.lambda_handler(event, None)  # no state table: each invocation delivers on its own
        assert (result["objects"], result["matches"], result["deliveries"], result["duplicates"]) == (1, 1, 3, 0)
        (payload,) = world.sns_payloads()
        assert payload == {"name": "Create User", "description": "A new IAM user has been created",
                           "record": records[1], "match": "username: user1"}
        assert len(world.slack.posts) == run
        text = json.dumps(world.slack.posts[-1])
        assert "Create User" in text and "A new IAM user has been created" in text and "username: user1" in text
        emails = world.emails()
        assert len(emails) == run
        assert "username: user1" in emails[-1].body and "Create User" in emails[-1].subject
        assert emails[-1].destinations["ToAddresses"] == ["foo@example.com", "bar@example.com"]


def test_failing_destination_does_not_stop_others_and_invocation_fails(world: World, caplog) -> None:
    world.write_config(GO_RULES)
    world.slack.statuses = [400]  # not retryable; with no dead letter store the invocation must fail
    world.s3.put_object(Bucket=BUCKET, Key=KEY, Body=log_bytes(go_records()))
    with pytest.raises(InvocationFailed, match='destination "Slack Warnings"') as info:
        handler.lambda_handler(s3_event(BUCKET, encoded(KEY)), None)
    assert "HTTP 400" in str(info.value) and "SECRETTOKEN" not in str(info.value)
    assert len(world.sns_payloads()) == 1 and len(world.emails()) == 1
    assert "SECRETTOKEN" not in caplog.text


def test_unreachable_slack_error_masks_the_webhook_secret(world: World, caplog) -> None:
    world.write_config(GO_RULES, slack_url="http://127.0.0.1:9/services/T1/B1/SECRETTOKEN")
    world.s3.put_object(Bucket=BUCKET, Key=KEY, Body=log_bytes(go_records()))
    with pytest.raises(InvocationFailed) as info:
        handler.lambda_handler(s3_event(BUCKET, encoded(KEY)), None)
    assert "ConnectionError" in str(info.value)
    assert "SECRETTOKEN" not in str(info.value) and "SECRETTOKEN" not in caplog.text


def test_rule_error_does_not_stop_other_rules_or_records(world: World) -> None:
    world.write_config('''
[[rule]]
name = "Breaks"
jq_match = '.requestParameters.missing | test("x")'
destinations = ["Slack Warnings"]
''' + GO_RULES)
    world.s3.put_object(Bucket=BUCKET, Key=KEY, Body=log_bytes(go_records()))
    assert handler.lambda_handler(s3_event(BUCKET, encoded(KEY)), None)["deliveries"] == 3


def test_all_objects_are_tried_when_one_is_unreadable(world: World, caplog) -> None:
    world.write_config(GO_RULES)
    world.s3.put_object(Bucket=BUCKET, Key="bad.json.gz", Body=b"\x1f\x8b\x08 not really gzip")
    world.s3.put_object(Bucket=BUCKET, Key=KEY, Body=log_bytes(go_records()))
    result = handler.lambda_handler(s3_event(BUCKET, "missing.json.gz", "bad.json.gz", encoded(KEY)), None)
    assert result["deliveries"] == 3 and len(world.sns_payloads()) == 1
    assert "missing.json.gz" in caplog.text and "no such object" in caplog.text  # a logged skip: it is gone
    assert "s3://trail-bucket/bad.json.gz: cannot decompress" in caplog.text  # logged: a retry cannot help


def test_digest_files_test_events_and_non_cloudtrail_objects_are_skipped(world: World) -> None:
    world.write_config(GO_RULES)
    digest = "AWSLogs/123456789012/CloudTrail-Digest/us-east-1/2021/07/10/digest.json.gz"
    world.s3.put_object(Bucket=BUCKET, Key="other.json", Body=b'{"hello": "world"}')
    result = handler.lambda_handler(s3_event(BUCKET, digest, "other.json"), None)
    assert result["objects"] == 0
    assert set(handler.lambda_handler({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET},
                                      None).values()) == {0}


def test_plain_json_log_files_work(world: World) -> None:
    world.write_config(GO_RULES)
    world.s3.put_object(Bucket=BUCKET, Key="plain.json", Body=log_bytes(go_records(), gz=False))
    assert handler.lambda_handler(s3_event(BUCKET, "plain.json"), None)["deliveries"] == 3


def test_structured_log_line_per_object(world: World, caplog) -> None:
    world.write_config(GO_RULES)
    world.s3.put_object(Bucket=BUCKET, Key=KEY, Body=log_bytes(go_records()))
    caplog.set_level("INFO", logger="tattletail")
    handler.lambda_handler(s3_event(BUCKET, encoded(KEY)), None)
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "tattletail"]
    (line,) = [x for x in lines if x["event"] == "object_processed"]
    assert line["bucket"] == BUCKET and line["key"] == KEY and line["records"] == 3
    assert line["matches"] == {"Create User": 1} and line["deliveries"] == 3 and line["failures"] == []
    assert isinstance(line["duration_ms"], float)


def test_config_from_s3_is_reread_only_when_its_etag_changes(world: World, monkeypatch) -> None:
    world.write_config(GO_RULES)
    text = world.config_path.read_text()
    world.s3.create_bucket(Bucket="conf")
    world.s3.put_object(Bucket="conf", Key="cfg/tattletail.toml", Body=text.encode())
    monkeypatch.setenv("S3_CONFIG_BUCKET", "conf")
    monkeypatch.setenv("S3_CONFIG_PATH", "cfg/tattletail.toml")  # S3 wins over TATTLETAIL_CONFIG
    first = current.current().config
    again = current.current().config
    assert again is first
    world.s3.put_object(Bucket="conf", Key="cfg/tattletail.toml", Body=text.replace("Create User", "New Name").encode())
    changed = current.current().config
    assert changed is not first and changed.rules[0].name == "New Name"
    world.s3.put_object(Bucket="conf", Key="cfg/tattletail.toml", Body=b"[[rule]]\nname = 1\n")
    kept = current.current().config  # a config that turns invalid keeps the last good one in use
    assert kept is changed
    current.reset()  # a new container has no good config to keep
    with pytest.raises(ConfigError, match="s3://conf/cfg/tattletail.toml: rule"):
        current.current()


def test_invalid_config_fails_the_invocation_loudly(world: World) -> None:
    world.config_path.write_text('[[rule]]\nname = "x"\njq_match = "select("\n')
    with pytest.raises(ConfigError, match="invalid jq_match"):
        handler.lambda_handler(s3_event(BUCKET, encoded(KEY)), None)


def test_event_of_unknown_shape_names_the_keys_seen(world: World) -> None:
    world.write_config(GO_RULES)
    with pytest.raises(Exception, match=r"keys seen: \['detail', 'source'\]"):
        handler.lambda_handler({"source": "aws.s3", "detail": {}}, None)
