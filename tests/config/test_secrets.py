from __future__ import annotations

import io
import json
from pathlib import Path

import boto3
import pytest

from tattletail import commands as cli
from tattletail import handler
from tattletail.config import loader as config
from tattletail.config import secrets
from tattletail.errors import ConfigError, SecretError
from tests.helpers import FakeSlack, log_bytes, s3_event


@pytest.mark.parametrize(("value", "expected"), [
    ("ssm:/tattletail/slack-audit", secrets.Reference("ssm", "/tattletail/slack-audit")),
    ("secretsmanager:tattletail/slack#webhook_url",
     secrets.Reference("secretsmanager", "tattletail/slack", "webhook_url")),
    ("secretsmanager:tattletail/slack", secrets.Reference("secretsmanager", "tattletail/slack")),
    ("${SLACK_URL}", secrets.Reference("env", "SLACK_URL")),
    ("https://hooks.slack.com/services/x", None),
    (5, None),
])
def test_references(value, expected) -> None:
    assert secrets.parse(value) == expected


@pytest.mark.parametrize("value", ["ssm:", "ssm:has space", "secretsmanager:#key", "secretsmanager:name#", "${1BAD}",
                                   "${UNCLOSED"])
def test_malformed_references(value: str) -> None:
    with pytest.raises(SecretError, match="malformed"):
        secrets.parse(value)


SLACK = '[[destination]]\nid = "Slack Audit"\ntype = "slack_webhook"\nwebhook_url = "{}"\n'


def test_check_validates_reference_syntax_without_aws() -> None:
    loaded = config.loads(SLACK.format("ssm:/tattletail/slack-audit"))
    assert [(d, k, str(r)) for d, k, r in loaded.references] == [
        ("Slack Audit", "webhook_url", "ssm:/tattletail/slack-audit")]
    with pytest.raises(ConfigError, match="destination\\[1\\] 'Slack Audit': webhook_url: malformed SSM reference"):
        config.loads(SLACK.format("ssm:bad name"))


@pytest.fixture
def stored(aws: None) -> None:
    boto3.client("ssm", region_name="us-east-1").put_parameter(
        Name="/tattletail/slack-audit", Value="https://hooks.slack.com/services/T1/B1/FROMSSM", Type="SecureString")
    boto3.client("secretsmanager", region_name="us-east-1").create_secret(
        Name="tattletail/slack", SecretString=json.dumps({"webhook_url": "https://hooks.slack.com/services/T1/B1/FROMSM"}))


def test_resolve_ssm_secretsmanager_and_env(stored: None) -> None:
    resolver = secrets.Resolver({"SLACK_URL": "https://hooks.slack.com/services/T1/B1/FROMENV"})
    for ref, tail in (("ssm:/tattletail/slack-audit", "FROMSSM"), ("secretsmanager:tattletail/slack#webhook_url",
                                                                   "FROMSM"), ("${SLACK_URL}", "FROMENV")):
        loaded = config.loads(SLACK.format(ref), resolve=resolver)
        assert loaded.destinations["Slack Audit"]._url.endswith(tail)  # type: ignore[attr-defined]
        assert tail not in repr(loaded.destinations)


def test_unreadable_secrets_are_config_errors_naming_destination_and_reference(stored: None) -> None:
    resolver = secrets.Resolver({})
    cases = {
        "ssm:/tattletail/missing": "ssm:/tattletail/missing: cannot read: ParameterNotFound",
        "secretsmanager:tattletail/slack#nokey": "is not a JSON object with the key 'nokey'",
        "secretsmanager:tattletail/none#k": "secretsmanager:tattletail/none#k: cannot read: ResourceNotFoundException",
        "${NOT_SET}": "environment variable NOT_SET is not set",
    }
    for ref, message in cases.items():
        with pytest.raises(ConfigError) as info:
            config.loads(SLACK.format(ref), resolve=resolver)
        (problem,) = info.value.problems
        assert problem.startswith("tattletail.toml: destination[1] 'Slack Audit': webhook_url: ") and message in problem


def test_check_resolve_on_the_command_line(stored: None, tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(SLACK.format("ssm:/tattletail/slack-audit"))
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["check", str(cfg)], out, err) == 0 and "1 secret references (syntax checked)" in out.getvalue()
    out = io.StringIO()
    assert cli.main(["check", "--resolve", str(cfg)], out, err) == 0 and "1 secret references read" in out.getvalue()
    cfg.write_text(SLACK.format("ssm:/tattletail/nope"))
    assert cli.main(["check", "--resolve", str(cfg)], io.StringIO(), err) == 1
    assert "ssm:/tattletail/nope: cannot read: ParameterNotFound" in err.getvalue()


def test_webhook_in_ssm_delivers_end_to_end(aws: None, tmp_path: Path, slack: FakeSlack,
                                            monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    boto3.client("ssm", region_name="us-east-1").put_parameter(
        Name="/tattletail/slack-audit", Value=slack.url("/services/T1/B1/SSMSECRET"), Type="SecureString")
    cfg = tmp_path / "tattletail.toml"
    cfg.write_text('[[rule]]\nname = "Create User"\njq_match = \'select(.eventName == "CreateUser")\'\n'
                   'destinations = ["Slack Audit"]\n' + SLACK.format("ssm:/tattletail/slack-audit"))
    monkeypatch.setenv("TATTLETAIL_CONFIG", str(cfg))
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="trail")
    s3.put_object(Bucket="trail", Key="k.json.gz", Body=log_bytes([{"eventName": "CreateUser", "eventID": "1"}]))
    caplog.set_level("INFO", logger="tattletail")
    assert handler.lambda_handler(s3_event("trail", "k.json.gz"), None)["deliveries"] == 1
    assert slack.paths == ["/services/T1/B1/SSMSECRET"]
    assert "SSMSECRET" not in caplog.text


def test_unreadable_parameter_fails_the_invocation_clearly(aws: None, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "tattletail.toml"
    cfg.write_text(SLACK.format("ssm:/tattletail/slack-audit"))
    monkeypatch.setenv("TATTLETAIL_CONFIG", str(cfg))
    with pytest.raises(ConfigError, match="'Slack Audit': webhook_url: ssm:/tattletail/slack-audit: cannot read: "
                                          "ParameterNotFound"):
        handler.lambda_handler(s3_event("trail", "k.json.gz"), None)
