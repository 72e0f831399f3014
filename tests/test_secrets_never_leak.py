"""No secret in anything printed, logged or stored: every failure mode of every destination, swept.

The webhook URL carries its secret in the path, the query, the fragment and the userinfo; each part is
a distinct marker here. For each way a delivery can fail (404, 500, 429, timeout, dropped connection,
connection refused, a server echoing the URL back) the Lambda runs for real (moto for S3, SQS, SSM,
SNS, SES; a local HTTP server for Slack), its alerts are dead-lettered to SQS or S3, then ``tattletail
redrive`` runs against the still-failing endpoint; every log line, the Lambda's result or error, every
dead letter and the command's output are searched for every marker.
"""

from __future__ import annotations

import io
import json
import logging
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
import urllib3
from hypothesis import given, settings
from hypothesis import strategies as st

from tattletail import commands as cli
from tattletail import handler, log
from tattletail.config import loader
from tattletail.delivery import retry
from tattletail.destinations import SlackWebhook
from tattletail.destinations.base import is_placeholder, url_problem
from tattletail.errors import ConfigError, DeliveryError, InvocationFailed
from tests.helpers import FakeSlack, log_bytes, s3_event

TOKEN = "Zq7TokenInThePath4sRv9Kd2"
QUERY = "Qx8TokenInTheQuery3mW5"
PASSWORD = "Pw6PasswordInUserinfo1Lc"
FRAGMENT = "Fr4TokenInTheFragment7Hy"
MARKERS = (TOKEN, QUERY, PASSWORD, FRAGMENT)
BUCKET, KEY = "trail", "AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/20/123456789012_CloudTrail_a.json.gz"
RECORD = {"eventVersion": "1.10", "eventTime": "2026-11-20T10:00:00Z", "eventName": "CreateUser",
          "eventSource": "iam.amazonaws.com", "awsRegion": "us-east-1", "eventID": "e-1",
          "userIdentity": {"type": "IAMUser", "userName": "alice"}, "requestParameters": {"userName": "bob"}}


def secret_url(port: int) -> str:
    return (f"http://hookuser:{PASSWORD}@127.0.0.1:{port}/services/T0LEAKTEST/B0LEAKTEST/{TOKEN}"
            f"?token={QUERY}#{FRAGMENT}")


def assert_no_secret(texts: list[str], markers: tuple[str, ...] | list[str] = MARKERS) -> None:
    for text in texts:
        for marker in markers:
            assert marker not in text, f"secret {marker} leaked in: {text[:500]}"


class EchoServer:
    """A webhook endpoint that answers 404 with the request's URL in its body (as some proxies do)."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                body = f"no_service: {self.path} (auth {self.headers.get('Authorization')})".encode()
                self.send_response(404)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.port = self.server.server_port

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def logs() -> Iterator[Captured]:
    captured = Captured()
    logger = logging.getLogger("tattletail")
    old = logger.level
    logger.addHandler(captured)
    logger.setLevel(logging.DEBUG)
    yield captured
    logger.removeHandler(captured)
    logger.setLevel(old)


@pytest.fixture
def stores(aws: None, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    s3.create_bucket(Bucket="letters")
    sqs = boto3.client("sqs", region_name="us-east-1")
    queue = sqs.create_queue(QueueName="dead-letters")["QueueUrl"]
    monkeypatch.setattr(retry, "_sleep", lambda seconds: None)
    for name in ("TATTLETAIL_STATE_TABLE", "TATTLETAIL_DLQ_URL", "TATTLETAIL_DLQ_S3"):
        monkeypatch.delenv(name, raising=False)
    return {"s3": s3, "sqs": sqs, "queue": queue}


def config_text(webhook: str, extra: str = "", destinations: str = '"Slack"') -> str:
    return f'''
[[rule]]
name = "Create User"
jq_match = 'select(.eventName == "CreateUser") | "user: \\(.requestParameters.userName)"'
destinations = [{destinations}]

[[destination]]
id = "Slack"
type = "slack_webhook"
webhook_url = "{webhook}"
timeout = 0.3
{extra}'''


def letters(stores: dict[str, Any]) -> list[str]:
    """Every dead letter's raw text, in the SQS queue and under the S3 prefix."""
    found = []
    while True:
        got = stores["sqs"].receive_message(QueueUrl=stores["queue"], MaxNumberOfMessages=10,
                                            VisibilityTimeout=0).get("Messages", [])
        fresh = [m["Body"] for m in got if m["Body"] not in found]
        if not fresh:
            break
        found += fresh
    for obj in stores["s3"].list_objects_v2(Bucket="letters").get("Contents", []):
        found.append(stores["s3"].get_object(Bucket="letters", Key=obj["Key"])["Body"].read().decode())
    return found


def run_lambda_and_redrive(stores: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                           config: str, store: str) -> list[str]:
    """Run the Lambda on one log file, then redrive its dead letters; everything they printed."""
    path = tmp_path / "tattletail.toml"
    path.write_text(config)
    monkeypatch.setenv("TATTLETAIL_CONFIG", str(path))
    if store == "sqs":
        monkeypatch.setenv("TATTLETAIL_DLQ_URL", stores["queue"])
        target = stores["queue"]
    else:
        monkeypatch.setenv("TATTLETAIL_DLQ_S3", "s3://letters/dead")
        target = "s3://letters/dead"
    stores["s3"].put_object(Bucket=BUCKET, Key=KEY, Body=log_bytes([RECORD]))
    texts = []
    try:
        result = handler.lambda_handler(s3_event(BUCKET, KEY), None)
        texts.append(json.dumps(result))
        assert result["dead_lettered"] >= 1
    except InvocationFailed as exc:  # a store that failed too: the error is what Lambda shows
        texts.append(str(exc))
    stored = letters(stores)
    assert stored, "the failed alert is kept as a dead letter"
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["redrive", "--config", str(path), target], out, err)
    assert code == 1 and "kept: " in err.getvalue()  # still failing: the letter is kept, its error shown
    config_loaded = loader.load(path)
    return [*texts, *stored, out.getvalue(), err.getvalue(), repr(config_loaded), repr(config_loaded.destinations)]


MODES = ["404", "500", "429", "timeout", "dropped", "refused", "echo"]


@pytest.fixture
def endpoint(request: pytest.FixtureRequest) -> Iterator[str]:
    """The secret webhook URL of a Slack endpoint failing in the given mode."""
    mode = request.param
    if mode == "refused":
        yield secret_url(closed_port())
        return
    if mode == "echo":
        echo = EchoServer()
        yield secret_url(echo.port)
        echo.close()
        return
    fake = FakeSlack()
    fake.hang_seconds = 0.5
    fake.answer = {"404": lambda n: 404, "500": lambda n: 500, "429": lambda n: (429, 0),
                   "timeout": lambda n: "hang", "dropped": lambda n: "drop"}[mode]
    yield secret_url(fake.server.server_port)
    fake.close()


@pytest.mark.parametrize("store", ["sqs", "s3"])
@pytest.mark.parametrize("endpoint", MODES, indirect=True)
def test_slack_failures_never_show_the_webhook_url(endpoint: str, store: str, stores: dict[str, Any],
                                                   logs: Captured, monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    texts = run_lambda_and_redrive(stores, monkeypatch, tmp_path, config_text(endpoint), store)
    assert any('"delivery_failed"' in line for line in logs.lines)
    assert any('"dead_lettered"' in line for line in logs.lines)
    captured = capsys.readouterr()
    assert_no_secret([*texts, *logs.lines, captured.out, captured.err])


@pytest.mark.parametrize("store", ["sqs", "s3"])
def test_an_oddly_encoded_webhook_url_never_shows_in_any_encoding(store: str, stores: dict[str, Any], logs: Captured,
                                                                 monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """urllib3 sends ``%2F``, ``%5B``, ``%7E`` where the URL has ``%2f``, ``[``, ``%7e``; the endpoint echoes
    what it received: neither form, nor any letter case of it, may show anywhere."""
    echo = EchoServer()
    try:
        url = (f"http://hookuser:{PASSWORD}@127.0.0.1:{echo.port}/services/T0LEAKTEST/B0LEAKTEST/"
               f"{TOKEN}%2f[x]~%7e{FRAGMENT}?token={QUERY}%7E")
        texts = run_lambda_and_redrive(stores, monkeypatch, tmp_path, config_text(url), store)
    finally:
        echo.close()
    captured = capsys.readouterr()
    everything = [*texts, *logs.lines, captured.out, captured.err]
    assert any("no_service" in text for text in everything)  # the endpoint's answer is shown...
    assert_no_secret([text.lower() for text in everything], [marker.lower() for marker in MARKERS])  # ...masked


@pytest.mark.parametrize("endpoint", ["404", "refused"], indirect=True)
def test_a_webhook_read_from_ssm_never_shows_either(endpoint: str, stores: dict[str, Any], logs: Captured,
                                                    monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    boto3.client("ssm", region_name="us-east-1").put_parameter(Name="/tattletail/slack", Value=endpoint,
                                                               Type="SecureString")
    texts = run_lambda_and_redrive(stores, monkeypatch, tmp_path, config_text("ssm:/tattletail/slack"), "sqs")
    assert any('"delivery_failed"' in line for line in logs.lines)
    assert_no_secret([*texts, *logs.lines])


def test_sns_and_ses_failures_do_not_show_the_webhook_either(stores: dict[str, Any], logs: Captured,
                                                             monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                             slack: FakeSlack) -> None:
    """The SNS topic does not exist and the SES sender is not verified: both fail for good, next to a
    Slack destination whose URL is in the same config (and its errors)."""
    slack.answer = lambda n: 404
    extra = '''
[[destination]]
id = "SNS"
type = "sns"
sns_arn = "arn:aws:sns:us-east-1:123456789012:missing"

[[destination]]
id = "Email"
type = "ses"
to_emails = ["soc@example.com"]
from_email = "unverified@example.com"
'''
    url = secret_url(slack.server.server_port)
    texts = run_lambda_and_redrive(stores, monkeypatch, tmp_path,
                                   config_text(url, extra, '"Slack", "SNS", "Email"'), "sqs")
    failed = [line for line in logs.lines if '"delivery_failed"' in line]
    assert {json.loads(line)["destination"] for line in failed} == {"Slack", "SNS", "Email"}
    assert_no_secret([*texts, *logs.lines])


def test_a_failing_dead_letter_store_fails_the_invocation_without_the_url(
        stores: dict[str, Any], logs: Captured, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "tattletail.toml"
    path.write_text(config_text(secret_url(closed_port())))
    monkeypatch.setenv("TATTLETAIL_CONFIG", str(path))
    monkeypatch.setenv("TATTLETAIL_DLQ_URL", stores["queue"] + "-missing")
    stores["s3"].put_object(Bucket=BUCKET, Key=KEY, Body=log_bytes([RECORD]))
    with pytest.raises(InvocationFailed) as caught:
        handler.lambda_handler(s3_event(BUCKET, KEY), None)
    assert "not dead-lettered" in str(caught.value)
    assert_no_secret([str(caught.value), *caught.value.failures, *logs.lines])


# --- load: every URL checked, never quoted ------------------------------------------------------

@pytest.mark.parametrize(("url", "problem"), [
    (f"https://hooks.slack.com:99999/services/T/B/{TOKEN}", "invalid port"),
    (f"https://hooks.slack.com:8o/services/T/B/{TOKEN}", "invalid port"),
    (f"https://hooks.slack.com:/services/T/B/{TOKEN}", "invalid port"),
    (f"ftp://hooks.slack.com/services/T/B/{TOKEN}", "must start with https://"),  # what is wrong, not "a placeholder"
    (f"https:///services/T/B/{TOKEN}", "has no host"),
    (f"https://hooks..slack.com/services/T/B/{TOKEN}", "invalid host name"),
    (f"https://[::1/services/T/B/{TOKEN}", "cannot be parsed"),
    (f"https://hooks.slack.com/services/T/B/{TOKEN}/TODO", "placeholder"),  # a warning (issue 16), an error
    ("https://hooks.slack.com/services/...", "placeholder"),               # only where sending is asked
    (f"https://hooks.slack.com/services/T/B/{TOKEN} ", "spaces or control characters"),
    (f"https://hooks.slack.com/services/T/B/{TOKEN}\u00e9", "non-ASCII"),
])
def test_check_rejects_unusable_urls_without_printing_them(url: str, problem: str, tmp_path: Path) -> None:
    path = tmp_path / "tattletail.toml"
    path.write_text(config_text(url.replace("\\", "\\\\")))
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["check", str(path)], out, err)
    assert code == (0 if problem == "placeholder" else 1)
    assert problem in err.getvalue() + out.getvalue() and "webhook_url" in err.getvalue() + out.getvalue()
    assert TOKEN not in err.getvalue() + out.getvalue()
    if problem == "placeholder":  # refused where sending is asked, still without the token
        with pytest.raises(ConfigError) as info:
            loader.load(path, sending=True)
        assert TOKEN not in str(info.value)


def test_check_resolve_names_the_reference_never_the_value(aws: None, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    boto3.client("ssm", region_name="us-east-1").put_parameter(
        Name="/tattletail/bad", Value=f"https://hooks.slack.com:99999/services/T/B/{TOKEN}?token={QUERY}",
        Type="SecureString")
    monkeypatch.setenv("BAD_EMAIL", f"not-an-address-{PASSWORD}")
    path = tmp_path / "tattletail.toml"
    path.write_text(config_text("ssm:/tattletail/bad", '''
[[destination]]
id = "Email"
type = "ses"
to_emails = ["soc@example.com"]
from_email = "${BAD_EMAIL}"
'''))
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["check", "--resolve", str(path)], out, err) == 1
    assert "webhook_url has an invalid port" in err.getvalue()
    assert "from_email is not an email address: (the value of ${BAD_EMAIL})" in err.getvalue()
    assert_no_secret([out.getvalue(), err.getvalue()])


def test_a_placeholder_loads_and_fails_only_when_sent() -> None:
    """Issue 16 wants an example's placeholder to be a warning: it loads, is flagged, and sending to it
    is a delivery error (so it is dead-lettered like any other failure)."""
    config = loader.loads(config_text("___YOUR_SLACK_WEBHOOK___"))
    slack = config.destinations["Slack"]
    assert slack.unusable() == "webhook_url is a placeholder, not a webhook URL"
    with pytest.raises(DeliveryError, match="placeholder"):
        slack.deliver({"text": "x"})
    assert loader.loads(config_text("https://hooks.slack.com/services/T/B/X")).destinations["Slack"].unusable() is None


@pytest.mark.parametrize("url", [
    f"http://127.0.0.1:99999/services/{TOKEN}", f"http://[::1/services/{TOKEN}", f"http://exa mple.com/{TOKEN}",
    f"gopher://example.com/{TOKEN}", f"http://{'a' * 64}.example.com/{TOKEN}", f"http:///{TOKEN}",
])
def test_a_url_that_slipped_past_load_fails_as_a_delivery_error(url: str) -> None:
    """Built by hand (not through ``check``), an unusable URL still fails inside the delivery error
    path, never as another exception, and the message never holds its token."""
    with pytest.raises(DeliveryError) as caught:
        SlackWebhook("s", url, timeout=0.2).deliver({"text": "x"})
    assert TOKEN not in str(caught.value)


URL_CHARS = st.sampled_from(list("abcAZ09-._~:/?#[]@!$&'()*+,;=% \t\n\u00e9\u202e\\") +
                            ["%zz", "::", "//", "..", "%2f", "%5c", "%40", "hooks.slack.com"])


@settings(derandomize=True, max_examples=400, deadline=None)
@given(st.sampled_from(["http://", "https://", "HTTPS://", "ftp://", "http:/", ""]),
       st.lists(URL_CHARS, max_size=30).map("".join))
def test_what_check_accepts_the_transport_can_send_to(scheme: str, rest: str) -> None:
    url = scheme + rest
    if url_problem(url) is None and not is_placeholder(url):
        parsed = urllib3.util.parse_url(url)  # raises on anything urllib3 cannot send to
        assert parsed.scheme in ("http", "https") and parsed.host
        # the host checked is the host urllib3 connects to
        assert parsed.host.strip("[]").lower() == urlsplit(url).hostname and parsed.port == urlsplit(url).port
        urllib3.PoolManager().connection_from_url(url)  # a pool for it can be made (no connection yet)


@pytest.mark.parametrize("url", [
    "https://hooks.slack.com\\@evil.example/services/T/B/X",          # urlsplit: evil.example; urllib3: slack
    "https://hooks.slack.com\\\\@evil.example/services/T/B/X",
    "https://hooks.slack.com:443@evil.example/services/T/B/X",         # a "host:port" that is userinfo
    "https://hooks.slack.com%2f@evil.example/services/T/B/X",          # an encoded slash in the user name
    "https://user:pw%40hooks.slack.com@evil.example/services/T/B/X",   # an encoded @ in the password
    "https://hooks.slack.com/\\evil.example/services/T/B/X",
    'https://hooks.slack.com/services/T/B/X"evil.example',             # a quote: JSON logs would escape it
    "https://hooks.slack.com/services/T/B/X|evil^{x}`",
])
def test_check_refuses_urls_that_name_another_host_than_urllib3_connects_to(url: str, tmp_path: Path) -> None:
    assert url_problem(url) is not None
    path = tmp_path / "tattletail.toml"
    path.write_text(config_text(url.replace("\\", "\\\\").replace('"', '\\"')))
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["check", str(path)], out, err) == 1
    assert "webhook_url" in err.getvalue() and "/services/T/B/X" not in err.getvalue()


def test_every_log_line_is_redacted_even_on_paths_nobody_foresaw(logs: Captured) -> None:
    url = secret_url(443)
    SlackWebhook("s", url)  # registers it
    log.emit("something_unforeseen", logging.ERROR, error=f"urllib3 said: {url.split('@')[1]} and {url}")
    log.emit("other", logging.ERROR, path=f"/services/T0LEAKTEST/B0LEAKTEST/{TOKEN}?token={QUERY}")
    assert len(logs.lines) == 2
    assert_no_secret(logs.lines)
