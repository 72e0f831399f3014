"""The template deploys (into moto's CloudFormation) and its role holds exactly the statements of
``tattletail policy`` for the same config; the committed template is the one the example config gives."""

from __future__ import annotations

import ast
import io
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest

from tattletail import commands as cli
from tattletail.commands import policy
from tattletail.config import loader as config
from tests.helpers import ROOT

EXAMPLE = ROOT / "tattletail.toml"


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return cli.main(list(args), out, err), out.getvalue(), err.getvalue()


def test_committed_template_is_generated_from_the_example_config() -> None:
    code, rendered, err = run_cli("template", "--config", str(EXAMPLE), "--template", str(ROOT / "template.yaml"))
    assert code == 0, err
    assert rendered == (ROOT / "template.yaml").read_text(), "run: tattletail template -o template.yaml"


def test_template_passes_cfn_lint() -> None:
    lint = shutil.which("cfn-lint") or str(Path(shutil.which("python") or "python").parent / "cfn-lint")
    done = subprocess.run([lint, str(ROOT / "template.yaml")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def normalized(document: Any) -> list[tuple[str, tuple[str, ...], tuple[str, ...], str]]:
    # moto keeps Fn::If's AWS::NoValue as None inside lists, where CloudFormation drops the element
    statements = [s for s in document["Statement"] if s is not None]
    return sorted((s["Sid"], tuple(sorted(s["Action"])), tuple(sorted(s["Resource"])),
                   json.dumps(s.get("Condition", {}), sort_keys=True)) for s in statements)


def deploy(template: str, **parameters: str) -> dict[str, Any]:
    """Create the stack in moto, with the code where `aws cloudformation package` would have put it."""
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="artifacts")
    s3.put_object(Bucket="artifacts", Key="tattletail/code.zip", Body=b"PK\x05\x06" + b"\x00" * 18)
    body = template.replace("Code: dist/tattletail.zip", "Code: {S3Bucket: artifacts, S3Key: tattletail/code.zip}")
    cf = boto3.client("cloudformation", region_name="us-east-1")
    cf.create_stack(StackName="tattletail", TemplateBody=body, Capabilities=["CAPABILITY_IAM"],
                    Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()])
    stack = cf.describe_stacks(StackName="tattletail")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def role_policy() -> dict[str, Any]:
    iam = boto3.client("iam")
    (role,) = [r for r in iam.list_roles()["Roles"] if "Role" in r["RoleName"]]
    document = iam.get_role_policy(RoleName=role["RoleName"], PolicyName="tattletail")["PolicyDocument"]
    return document if isinstance(document, dict) else ast.literal_eval(document)  # moto returns a repr


@pytest.mark.parametrize("options", [
    {},
    {"CreateStateTable": "false", "CreateDeadLetterQueue": "false", "ConfigBucket": "conf", "ConfigKey": "t/c.toml"},
    {"Front": "sqs", "EnableEventBridge": "true"},
], ids=["defaults", "no-state-config-in-s3", "sqs-front"])
def test_deployed_role_has_exactly_the_statements_of_tattletail_policy(aws: None, options: dict[str, str]) -> None:
    outputs = deploy((ROOT / "template.yaml").read_text(), TrailBucket="my-trail", **options)
    args = ["policy", "--config", str(EXAMPLE), "--trail-bucket", "my-trail", "--region", "us-east-1",
            "--account-id", "123456789012"]
    if options.get("CreateStateTable", "true") == "true":
        args += ["--state-table", outputs["StateTable"]]
    if options.get("CreateDeadLetterQueue", "true") == "true":
        args += ["--dlq-url", outputs["DeadLetterQueueUrl"]]
    if "ConfigBucket" in options:
        args += ["--config-bucket", options["ConfigBucket"], "--config-key", options["ConfigKey"]]
    code, out, err = run_cli(*args)
    assert code == 0, err
    expected = json.loads(out)
    if options.get("Front") == "sqs":  # the inbox queue is the stack's own
        queue = boto3.client("sqs", region_name="us-east-1").list_queues()["QueueUrls"]
        inbox = next(q for q in queue if "InboxQueue" in q)
        arn = f"arn:aws:sqs:us-east-1:123456789012:{inbox.rsplit('/', 1)[1]}"
        expected["Statement"].append({"Sid": "ReadInbox", "Effect": "Allow", "Action": [
            "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"], "Resource": [arn]})
    assert normalized(role_policy()) == normalized(expected)


def test_policy_is_exact_for_the_example_config() -> None:
    code, out, _ = run_cli("policy", "--config", str(EXAMPLE), "--trail-bucket", "trail", "--region", "eu-west-1",
                           "--account-id", "111122223333", "--state-table", "state", "--dlq-s3", "s3://dlq/letters/")
    assert code == 0
    by_sid = {s["Sid"]: s for s in json.loads(out)["Statement"]}
    assert by_sid["PublishAlerts"]["Resource"] == ["arn:aws:sns:us-east-1:123456789012:cloudtrail-alerts"]
    assert by_sid["SendAlertEmail"]["Resource"] == [
        "arn:aws:ses:eu-west-1:111122223333:identity/cloudtrail-alerts@example.com",
        "arn:aws:ses:eu-west-1:111122223333:identity/example.com"]
    assert by_sid["ReadTrailLogs"]["Resource"] == ["arn:aws:s3:::trail/AWSLogs/*"]
    assert by_sid["DeliveryState"]["Resource"] == ["arn:aws:dynamodb:eu-west-1:111122223333:table/state"]
    assert by_sid["DeadLettersInS3"]["Resource"] == ["arn:aws:s3:::dlq/letters/*"]
    assert "ReadConfig" not in by_sid and "DeadLetters" not in by_sid and "ReadSecretParameters" not in by_sid
    assert all("*" not in a for s in by_sid.values() for a in s["Action"])


def test_secrets_referenced_get_exactly_their_read_permission(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('''
[[destination]]
id = "Slack"
type = "slack_webhook"
webhook_url = "ssm:/tattletail/slack-audit"
[[destination]]
id = "Slack 2"
type = "slack_webhook"
webhook_url = "secretsmanager:tattletail/slack#webhook_url"
[[destination]]
id = "Slack 3"
type = "slack_webhook"
webhook_url = "${SLACK_URL}"
''')
    loaded = config.load(cfg)
    docs = {s.sid: s for s in policy.statements(loaded)}
    assert docs["ReadSecretParameters"].resources == (
        "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/tattletail/slack-audit",)
    assert docs["ReadSecrets"].resources == (
        "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:tattletail/slack-??????",)
    assert "PublishAlerts" not in docs and "SendAlertEmail" not in docs


def test_a_topic_held_in_a_secret_needs_resolve(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[[destination]]\nid = "T"\ntype = "sns"\nsns_arn = "ssm:/tattletail/topic"\n')
    code, _, err = run_cli("policy", "--config", str(cfg))
    assert code == 1 and "destination 'T': sns_arn is a secret reference" in err


def test_make_deploy_renders_packages_and_deploys_with_the_aws_cli_only() -> None:
    done = subprocess.run(["make", "-n", "-C", str(ROOT), "deploy", "STACK_NAME=alerts", "TRAIL_BUCKET=my-trail",
                           "ARTIFACT_BUCKET=art", "DEPLOY_PARAMS=Front=sqs", "STAMP="],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    plan = done.stdout
    assert "tattletail template --config tattletail.toml --template template.yaml -o template.deploy.yaml" in plan
    assert "aws cloudformation package --template-file template.deploy.yaml" in plan
    assert 'aws cloudformation deploy --template-file build/packaged.yaml --stack-name "alerts"' in plan
    assert "TrailBucket=my-trail" in plan and "Front=sqs" in plan and "Runtime=python3.13" in plan
    usage = subprocess.run(["make", "-C", str(ROOT), "deploy", "STAMP=", "ZIP="], capture_output=True, text=True)
    assert usage.returncode != 0 and "usage: make deploy STACK_NAME=" in usage.stdout
