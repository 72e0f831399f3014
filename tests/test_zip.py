"""The built Lambda zip works on its own: unpacked into an empty directory, its handler runs in a
separate process where only the zip's contents and boto3 (with its urllib3, as in the runtime) can be
imported, against moto's server on 127.0.0.1 (through real HTTP and AWS_ENDPOINT_URL) and a local HTTP
server standing in for Slack.

It is built and run twice when the Lambda runtime's Python (3.13) is installed: for this machine's Python,
and for the runtime's, run by that interpreter, where every module of the zip must load from the bytecode
it carries (``/var/task`` is read-only: a module compiled at each cold start is time lost)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

import boto3
import pytest

from tests.helpers import ROOT, FakeSlack, log_bytes, s3_event

RUNTIME_PYTHON = "3.13"  # the Makefile's LAMBDA_PYTHON

BOTO3_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six.py", "urllib3")

RUNNER = """
import importlib.machinery, json, sys
sys.path[:0] = sys.argv[1:3]
compiled = []  # modules of the zip compiled from source: their bytecode was missing or unusable
to_code = importlib.machinery.SourceFileLoader.source_to_code
def source_to_code(self, data, path, **kwargs):
    if str(path).startswith(sys.argv[1]):
        compiled.append(str(path)[len(sys.argv[1]):])
    return to_code(self, data, path, **kwargs)
importlib.machinery.SourceFileLoader.source_to_code = source_to_code
import jq, tattletail
assert tattletail.__file__.startswith(sys.argv[1]) and jq.__file__.startswith(sys.argv[1]), "not from the zip"
for name in ("moto", "requests"):
    try:
        __import__(name)
    except ImportError:
        pass
    else:
        raise SystemExit(name + " must not be importable here")
from tattletail.handler import lambda_handler
result = lambda_handler(json.load(sys.stdin), None)
import urllib3
assert not urllib3.__file__.startswith(sys.argv[1]), "urllib3 is the runtime's, not the zip's"
print(json.dumps({"result": result, "compiled": compiled, "python": sys.version_info[:2]}))
"""


def _make_var(name: str, **overrides: str) -> str:
    args = [f"{k}={v}" for k, v in overrides.items()]
    done = subprocess.run(["make", "-s", "-C", str(ROOT), "--eval", f"print-var: ; @echo $({name})", "print-var",
                           *args], capture_output=True, text=True, timeout=60)
    return done.stdout.strip()


def _targets() -> list[str]:
    """This machine's Python, and the runtime's when it is installed (else the zip is tested only here)."""
    mine = f"{sys.version_info.major}.{sys.version_info.minor}"
    return [mine] if mine == RUNTIME_PYTHON else [mine, RUNTIME_PYTHON]


class Built:
    def __init__(self, path: Path, version: str, python: str, output: str) -> None:
        self.path, self.version, self.python, self.output = path, version, python, output


@pytest.fixture(scope="module", params=_targets())
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Built:
    """``make zip`` for this machine's Python and architecture, then for the runtime's Python (3.13) when
    that interpreter is installed: it compiles the bytecode and runs the handler below."""
    version: str = request.param
    target = _make_var("TARGET_PYTHON", LAMBDA_PYTHON=version)
    if not target:
        pytest.skip(f"python{version} is not installed: the zip for it is not tested under it")
    dist = tmp_path_factory.mktemp("dist")
    arch = "arm64" if platform.machine() in ("aarch64", "arm64") else "x86_64"
    try:
        done = subprocess.run(["make", "-C", str(ROOT), "zip", f"LAMBDA_PYTHON={version}", f"LAMBDA_ARCH={arch}",
                               f"DIST={dist}", f"PY={sys.executable}", "STAMP=", "RUN_STAMP="],
                              check=True, capture_output=True, text=True, timeout=600)
    except subprocess.CalledProcessError as exc:
        if "No matching distribution" in exc.stderr or "Could not find a version" in exc.stderr:
            pytest.skip(f"package registry unreachable for the zip's wheels: {exc.stderr[-300:]}")
        raise AssertionError(exc.stdout + exc.stderr) from None
    return Built(dist / "tattletail.zip", version, target, done.stdout)


@pytest.fixture
def built_zip(built: Built) -> Path:
    return built.path


@pytest.fixture
def moto_server():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    # moto's backends live in this process, shared by every server: start each test from nothing
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=10).close()
    yield url
    server.stop()


def test_zip_contents(built_zip: Path) -> None:
    names = zipfile.ZipFile(built_zip).namelist()
    assert "tattletail/handler.py" in names and "tattletail.toml" in names
    assert "rules/ssm-session-manager.toml" in names and "rules/cis-aws-foundations.toml" in names
    assert any(n.startswith("jq") and n.endswith(".so") for n in names)
    assert any(n.startswith("orjson/") and n.endswith(".so") for n in names)
    assert not any(n.startswith("ijson/") for n in names), "nothing imports ijson any more"
    assert not any(n.startswith(("boto3/", "botocore/", "urllib3/")) for n in names), "the runtime provides them"
    assert not any(n.startswith(("requests/", "charset_normalizer/", "idna/", "certifi/")) for n in names)


def test_zip_carries_bytecode_of_the_target_python(built: Built) -> None:
    tag = "cpython-" + built.version.replace(".", "")
    names = set(zipfile.ZipFile(built.path).namelist())
    modules = [n for n in names if n.endswith(".py") and n.startswith(("tattletail/", "tzdata/"))]
    assert modules
    for module in modules:
        folder, _, file = module.rpartition("/")
        assert f"{folder}/__pycache__/{file[:-3]}.{tag}.pyc" in names, module
    assert f"bytecode compiled by {built.python}" in built.output


def test_unpacked_zip_handler_delivers_slack_sns_and_ses(built: Built, tmp_path: Path, moto_server: str,
                                                         slack: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> None:
    task = tmp_path / "task"
    zipfile.ZipFile(built.path).extractall(task)
    boto_dir = tmp_path / "boto"
    boto_dir.mkdir()
    site = Path(boto3.__file__).parent.parent
    for name in BOTO3_PACKAGES:
        if (site / name).exists():
            (boto_dir / name).symlink_to(site / name)

    env = {"PATH": os.environ.get("PATH", ""), "AWS_ENDPOINT_URL": moto_server, "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1", "LAMBDA_TASK_ROOT": str(task)}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="trail")
    sns = boto3.client("sns")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    sqs = boto3.client("sqs")
    queue = sqs.create_queue(QueueName="tap")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    boto3.client("ses").verify_email_identity(EmailAddress="alerts@example.com")

    config = tmp_path / "tattletail.toml"
    config.write_text(f'''
[[rule]]
name = "SSM Start Session"
jq_match = 'select(.eventName == "StartSession") | "user: \\(.userIdentity.arn) target: \\(.requestParameters.target)"'
description = "SSM start session"
destinations = ["Slack Audit", "SNS", "Email"]

[[destination]]
id = "Slack Audit"
type = "slack_webhook"
webhook_url = "{slack.url()}"

[[destination]]
id = "SNS"
type = "sns"
sns_arn = "{topic}"

[[destination]]
id = "Email"
type = "ses"
to_emails = ["team@example.com"]
from_email = "alerts@example.com"
''')
    env["TATTLETAIL_CONFIG"] = str(config)
    record = {"eventName": "StartSession", "eventID": "e-1", "eventTime": "2026-11-20T09:01:40Z",
              "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/alice"},
              "requestParameters": {"target": "i-0123456789abcdef0"}}
    key = "AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/20/log.json.gz"
    s3.put_object(Bucket="trail", Key=key, Body=log_bytes([{"eventName": "DescribeInstances"}, record]))

    # -B: /var/task is read-only, nothing is written beside the code
    done = subprocess.run([built.python, "-B", "-I", "-S", "-c", RUNNER, str(task) + os.sep, str(boto_dir)],
                          input=json.dumps(s3_event("trail", key)), capture_output=True, text=True,
                          cwd=task, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    ran = json.loads(done.stdout.splitlines()[-1])
    assert ran["python"] == [int(part) for part in built.version.split(".")]
    assert ran["compiled"] == [], "modules of the zip compiled at start: their bytecode is missing"
    result = ran["result"]
    assert (result["objects"], result["matches"], result["deliveries"]) == (1, 1, 3)

    expected = "user: arn:aws:iam::123456789012:user/alice target: i-0123456789abcdef0"
    assert len(slack.posts) == 1 and expected in json.dumps(slack.posts[0])
    (message,) = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    assert json.loads(json.loads(message["Body"])["Message"])["match"] == expected
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    (email,) = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
    assert expected in email.body
    assert "SECRETTOKEN" not in done.stderr
