"""Every way CloudTrail reaches the function, end to end through ``lambda_handler`` (moto S3 and a local
Slack): a sample event of each shape from tests/events/, with the alerts it must produce."""

from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from tattletail import handler
from tests.helpers import ROOT, FakeSlack, load_event

OBJECTS = load_event("objects.json")
KEYS: dict[str, str] = OBJECTS["keys"]
BUCKET = OBJECTS["bucket"]

TERMINATE = dict(OBJECTS["start_session"], eventName="TerminateSession", eventID="6f3c9e1b-0000-4000-8000-000000000003",
                 requestParameters={"sessionId": "alice-0f1e2d3c4b5a69788"},
                 responseElements={"sessionId": "alice-0f1e2d3c4b5a69788"})
INSIGHT = {"eventVersion": "1.07", "eventTime": "2026-11-02T09:25:00Z", "awsRegion": "us-east-1",
           "eventID": "6f3c9e1b-0000-4000-8000-000000000004", "eventType": "AwsCloudTrailInsight",
           "recipientAccountId": "111122223333", "sharedEventID": "2d7cc4a1-0000-4000-8000-000000000005",
           "insightDetails": {"state": "Start", "eventSource": "iam.amazonaws.com", "eventName": "CreateAccessKey",
                              "insightType": "ApiCallRateInsight"}, "eventCategory": "Insight"}
NOISE = {"eventVersion": "1.09", "eventSource": "ec2.amazonaws.com", "eventName": "DescribeInstances",
         "eventTime": "2026-11-02T09:10:00Z", "eventID": "6f3c9e1b-0000-4000-8000-000000000009",
         "userIdentity": {"type": "AWSService", "invokedBy": "ec2.amazonaws.com"}, "recipientAccountId": "111122223333"}
CONTENT = {
    "KEY": [NOISE, OBJECTS["start_session"]],
    "ORG_KEY": [OBJECTS["root_login"]],
    "CUSTOM_KEY": [TERMINATE],
    "INSIGHT_KEY": [INSIGHT],
}
SESSION = ("SSM session started", "arn:aws:sts::111122223333:assumed-role/Admin/alice started session "
           "alice-0f1e2d3c4b5a69788 on i-0a1b2c3d4e5f67890")
ROOT_LOGIN = ("Root console sign-in", "root sign-in Success from 198.51.100.77 (MFA: No)")
TERMINATED = ("SSM session terminated", "arn:aws:sts::111122223333:assumed-role/Admin/alice terminated session "
              "alice-0f1e2d3c4b5a69788")
INSIGHTS = ("CloudTrail Insight", "ApiCallRateInsight on CreateAccessKey (Start)")


@pytest.fixture
def slack_config(aws: None, tmp_path: Path, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> FakeSlack:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    for name, records in CONTENT.items():
        s3.put_object(Bucket=BUCKET, Key=KEYS[name], Body=gzip.compress(json.dumps({"Records": records}).encode()))
    s3.put_object(Bucket=BUCKET, Key=KEYS["DIGEST_KEY"], Body=gzip.compress(b'{"awsAccountId": "111122223333"}'))
    s3.put_object(Bucket=BUCKET, Key="AWSLogs/corrupt.json.gz", Body=b"\x1f\x8b\x08 broken")
    config = tmp_path / "tattletail.toml"
    config.write_text(f"""
[[include]]
path = "{ROOT / 'rules' / 'ssm-session-manager.toml'}"
destinations = ["Slack"]
disable = ["SSM session on a bastion host"]

[[include]]
path = "{ROOT / 'rules' / 'root-account.toml'}"
destinations = ["Slack"]

[[rule]]
name = "CloudTrail Insight"
jq_match = '''select(.eventCategory == "Insight")
  | "\\(.insightDetails.insightType) on \\(.insightDetails.eventName) (\\(.insightDetails.state))"'''
destinations = ["Slack"]

[[destination]]
id = "Slack"
type = "slack_webhook"
webhook_url = "{slack.url()}"
""")
    monkeypatch.setenv("TATTLETAIL_CONFIG", str(config))
    return slack


def alerts(slack: FakeSlack) -> list[tuple[str, str]]:
    """(rule, annotation) of each Slack post, in order."""
    found = []
    for post in slack.posts:
        rule = next(b["elements"][0]["text"] for b in post["blocks"] if b["type"] == "context")
        match = next(b["text"]["text"] for b in post["blocks"]
                     if b.get("text", {}).get("text", "").startswith("*Match*"))
        found.append((rule.split("*Rule:* ", 1)[1].split("  |")[0], match.split("```")[1]))
    return found


def test_s3_notification_of_every_key_layout(slack_config: FakeSlack) -> None:
    result = handler.lambda_handler(load_event("s3-object-created.json"), None)
    assert sorted(alerts(slack_config)) == sorted([SESSION, ROOT_LOGIN, TERMINATED, INSIGHTS])
    assert result["objects"] == 4  # the digest file is skipped


def test_s3_test_event_is_acknowledged(slack_config: FakeSlack) -> None:
    assert set(handler.lambda_handler(load_event("s3-test-event.json"), None).values()) == {0}


def test_s3_notification_inside_sns(slack_config: FakeSlack) -> None:
    handler.lambda_handler(load_event("sns-s3-notification.json"), None)
    assert alerts(slack_config) == [SESSION]


def test_cloudtrails_own_sns_notification(slack_config: FakeSlack) -> None:
    handler.lambda_handler(load_event("sns-cloudtrail-notification.json"), None)
    assert alerts(slack_config) == [SESSION, ROOT_LOGIN]


def test_sqs_batch_of_s3_events_and_sns_envelopes(slack_config: FakeSlack) -> None:
    response = handler.lambda_handler(load_event("sqs-s3-notification.json"), None)
    assert response == {"batchItemFailures": []}
    # the third message (CloudTrail's notification) names both objects again: sent once per invocation
    assert alerts(slack_config) == [SESSION, ROOT_LOGIN]


def test_sqs_reports_the_bad_messages_alone(slack_config: FakeSlack, caplog) -> None:
    response = handler.lambda_handler(load_event("sqs-with-a-bad-message.json"), None)
    assert response == {"batchItemFailures": [{"itemIdentifier": "c1d2e3f4-0000-4000-8000-0000000000bd"},
                                              {"itemIdentifier": "c1d2e3f4-0000-4000-8000-0000000000be"}]}
    assert alerts(slack_config) == [SESSION]
    assert "SQS message c1d2e3f4-0000-4000-8000-0000000000bd body is not JSON" in caplog.text
    assert "unknown event shape (keys seen: ['some'])" in caplog.text


def test_sqs_message_whose_delivery_fails_is_retried_alone(slack_config: FakeSlack) -> None:
    event = load_event("sqs-s3-notification.json")
    slack_config.answer = lambda n: 400 if n == 2 else 200  # the second message's root sign-in fails for good
    response = handler.lambda_handler(event, None)
    assert response == {"batchItemFailures": [{"itemIdentifier": "2e1424d4-f796-459a-8184-9c92662be6da"}]}


def test_s3_event_through_eventbridge_keys_are_not_url_encoded(slack_config: FakeSlack) -> None:
    assert " " in KEYS["CUSTOM_KEY"]
    handler.lambda_handler(load_event("eventbridge-s3-object-created.json"), None)
    assert alerts(slack_config) == [TERMINATED]


def test_eventbridge_cloudtrail_events_are_records(slack_config: FakeSlack) -> None:
    handler.lambda_handler(load_event("eventbridge-aws-api-call.json"), None)
    handler.lambda_handler(load_event("eventbridge-console-sign-in.json"), None)
    assert alerts(slack_config) == [SESSION, ROOT_LOGIN]


def test_the_same_record_by_s3_and_by_eventbridge_gives_the_same_alert(slack_config: FakeSlack) -> None:
    handler.lambda_handler(load_event("sns-s3-notification.json"), None)
    handler.lambda_handler(load_event("eventbridge-aws-api-call.json"), None)
    by_s3, by_eventbridge = slack_config.posts
    assert by_s3 == by_eventbridge


def test_the_same_record_by_s3_and_by_eventbridge_alerts_once_with_a_state_table(
        slack_config: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> None:
    boto3.client("dynamodb", region_name="us-east-1").create_table(
        TableName="state", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    monkeypatch.setenv("TATTLETAIL_STATE_TABLE", "state")
    handler.lambda_handler(load_event("eventbridge-aws-api-call.json"), None)
    result = handler.lambda_handler(load_event("sns-s3-notification.json"), None)
    assert result["duplicates"] == 1 and len(slack_config.posts) == 1


@pytest.mark.parametrize("name", ["s3-batch-1.0.json", "s3-batch-2.0.json"])
def test_s3_batch_operations_results_per_task(slack_config: FakeSlack, name: str) -> None:
    event = load_event(name)
    response = handler.lambda_handler(event, None)
    assert response["invocationSchemaVersion"] == event["invocationSchemaVersion"]
    assert response["invocationId"] == event["invocationId"] and response["treatMissingKeysAs"] == "PermanentFailure"
    codes = [(r["taskId"], r["resultCode"]) for r in response["results"]]
    if name == "s3-batch-1.0.json":
        assert codes == [("dGFza2lkZ29lc2hlcmUK", "Succeeded")] and alerts(slack_config) == [SESSION]
        assert response["results"][0]["resultString"].startswith("2 records, 1 matches, 1 alerts delivered")
    else:
        assert codes == [("dGFza2lkZ29lc2hlcmUK", "Succeeded"), ("dGFza2lkZ29lc2hlcmUL", "PermanentFailure"),
                         ("dGFza2lkZ29lc2hlcmUM", "Succeeded")]
        assert "cannot decompress" in response["results"][1]["resultString"]
        assert response["results"][2]["resultString"] == "skipped: CloudTrail digest file"
        assert alerts(slack_config) == [TERMINATED]


def test_s3_batch_temporary_failure_when_delivery_fails(slack_config: FakeSlack) -> None:
    slack_config.answer = lambda n: 400
    response = handler.lambda_handler(load_event("s3-batch-1.0.json"), None)  # no dead letter store
    (result,) = response["results"]
    assert result["resultCode"] == "TemporaryFailure" and "HTTP 400" in result["resultString"]


@pytest.mark.parametrize("event", [
    {"hello": "world"},
    {"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}},
    {"invocationSchemaVersion": "9.9", "tasks": []},
    ["not", "an", "object"],
])
def test_unknown_shapes_are_clear_errors_naming_what_was_seen(slack_config: FakeSlack, event: Any) -> None:
    from tattletail.errors import SourceError

    with pytest.raises(SourceError) as info:
        handler.lambda_handler(copy.deepcopy(event), None)
    message = str(info.value)
    assert ("keys seen: ['hello']" in message or "unknown detail-type 'Scheduled Event'" in message
            or "unknown schema version '9.9'" in message or "a JSON array" in message)


def test_s3_batch_task_with_a_version_id_reads_that_version_not_the_latest(slack_config: FakeSlack) -> None:
    """A backfill of a versioned bucket reads what its manifest listed, even if the key was overwritten since."""
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    key = KEYS["CUSTOM_KEY"]
    old = s3.put_object(Bucket=BUCKET, Key=key,
                        Body=gzip.compress(json.dumps({"Records": [TERMINATE]}).encode()))["VersionId"]
    s3.put_object(Bucket=BUCKET, Key=key, Body=gzip.compress(json.dumps({"Records": [NOISE]}).encode()))
    event = load_event("s3-batch-2.0.json")
    event["tasks"] = [dict(event["tasks"][0], s3Key=key, s3VersionId=old)]
    response = handler.lambda_handler(event, None)
    assert [r["resultCode"] for r in response["results"]] == ["Succeeded"]
    assert alerts(slack_config) == [TERMINATED]
    # without a version id, the same task reads the latest version, which matches nothing
    event["tasks"] = [dict(event["tasks"][0], s3VersionId=None)]
    slack_config.posts.clear()
    handler.lambda_handler(event, None)
    assert alerts(slack_config) == []
