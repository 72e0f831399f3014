"""What the outside review of the one-path and crash-safety work found, each pinned by a test."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import boto3
import pytest

from tattletail import commands, handler
from tattletail.config import loader
from tattletail.delivery import retry
from tattletail.delivery.dispatch import Dispatcher
from tattletail.delivery.report import Report
from tattletail.engine import Engine
from tattletail.pipeline import process_stream
from tests.delivery.test_deadline import BUCKET, CONFIG, KEY, Clock, Context, record
from tests.helpers import FakeSlack, log_bytes, s3_event


def test_a_file_of_nothing_but_bad_records_stops_in_time_and_logs_a_summary(
        slack: FakeSlack, caplog: pytest.LogCaptureFixture) -> None:
    config = loader.loads(CONFIG.format(url=slack.url()))
    clock = Clock()

    def tick() -> float:  # every look at the clock costs a second
        clock.now += 1.0
        return clock.now

    dispatcher = Dispatcher(config, policy=retry.RetryPolicy(reserve=10.0), deadline=retry.Deadline.after(100.0, tick))
    body = gzip.compress(b'{"Records":[' + b",".join([b"1"] * 100_000) + b"]}")
    caplog.set_level("WARNING", logger="tattletail")
    report = process_stream(io.BytesIO(body), Report("s3://trail/ones.json.gz"), Engine(config.rules),
                            dispatcher=dispatcher)
    assert 0 < report.bad_records < 100  # stopped long before the end, not after a million log lines
    assert [f for f in report.failures if "not finished in time" in f]
    lines = [json.loads(r.getMessage()) for r in caplog.records]
    assert sum(line["event"] == "record_skipped" for line in lines) <= 20
    assert [line["count"] for line in lines if line["event"] == "records_skipped"] == [report.bad_records]


def test_a_function_with_a_short_timeout_still_sends(aws: None, tmp_path: Path, slack: FakeSlack,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=log_bytes([record(n) for n in range(3)]))
    config = tmp_path / "tattletail.toml"
    config.write_text(CONFIG.format(url=slack.url()))
    monkeypatch.setenv("TATTLETAIL_CONFIG", str(config))
    monkeypatch.setattr(handler, "retry_policy", retry.RetryPolicy())  # the real 10 s reserve
    result = handler.lambda_handler(s3_event(BUCKET, KEY), Context(8.0))  # less time than the reserve
    assert (result["alerts_delivered"], len(slack.posts)) == (3, 3)


def test_one_unreadable_dead_letter_does_not_keep_the_others(aws: None, tmp_path: Path, slack: FakeSlack) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="dlq")
    good = {"version": 1, "kind": "alert", "rule": "Create User", "destination": "Slack", "keys": ["k1"],
            "records": [], "match": None, "rendered": {"text": "hello"}, "error": "HTTP 500"}
    s3.put_object(Bucket="dlq", Key="p/a-broken.json", Body=b"{not json")
    s3.put_object(Bucket="dlq", Key="p/b-good.json", Body=json.dumps(good).encode())
    s3.put_object(Bucket="dlq", Key="p/c-no-message.json", Body=json.dumps({**good, "rendered": None}).encode())
    config = tmp_path / "tattletail.toml"
    config.write_text(CONFIG.format(url=slack.url()))
    out, err = io.StringIO(), io.StringIO()
    assert commands.main(["redrive", "--config", str(config), "s3://dlq/p"], out, err) == 1
    assert out.getvalue().startswith("1 resent, 0 already delivered, 2 kept")
    assert "p/a-broken.json: unreadable (not JSON" in err.getvalue()
    assert "holds no rendered message" in err.getvalue()
    assert [post["text"] for post in slack.posts] == ["hello"]


def test_a_damaged_single_record_file_is_reported_not_a_traceback(tmp_path: Path) -> None:
    good = tmp_path / "rec.json"
    good.write_text(json.dumps({**record(1), "big": 18446744073709551616}))
    damaged = tmp_path / "trunc.json.gz"
    damaged.write_bytes(gzip.compress(good.read_bytes())[:-6])
    out, err = io.StringIO(), io.StringIO()
    code = commands.main(["run", "--config", str(Path(__file__).parent.parent / "tattletail.toml"),
                          str(damaged), str(good)], out, err)
    # named on the command line, the damaged file is a failure (exit 1), but it stops nothing
    assert code == 1 and "trunc.json.gz" in err.getvalue()
    assert "1 records, 1 matches" in err.getvalue()  # the good file after the damaged one was read




def test_dead_letter_and_log_reading_clients_fit_in_the_time_left(aws: None) -> None:
    from tattletail.delivery import deadletter

    for url in ("s3://dlq/p", "https://sqs.us-east-1.amazonaws.com/123456789012/dlq"):
        timed = deadletter.open_store(url, time_left=lambda: 12.0).client.meta.config
        assert (timed.connect_timeout, timed.read_timeout) == (4.0, 4.0)  # a try fits in the 12 s left
        assert deadletter.open_store(url).client.meta.config.read_timeout == 60  # the CLI: botocore's default
    dispatcher = Dispatcher(loader.loads(CONFIG.format(url="http://127.0.0.1:9/x")),
                            policy=retry.RetryPolicy(reserve=2.0), deadline=retry.Deadline.after(14.0, Clock()))
    assert handler._reader(dispatcher).meta.config.read_timeout == 2.0  # (14 - 2) s for two tries


def test_a_lone_surrogate_in_an_event_id_does_not_stop_the_file(tmp_path: Path) -> None:
    from tattletail.alerts.alert import Alert
    from tattletail.rules import Match, Rule

    odd = {**record(2), "eventID": "e\udfff"}
    rule = Rule(name="Create User", jq_match=".")
    Alert.of(Match(rule, odd, odd, None))  # the console link quotes the eventID: it must not raise
    log = tmp_path / "log.json"
    log.write_text(json.dumps({"Records": [record(1), odd, record(3)]}))
    out, err = io.StringIO(), io.StringIO()
    config = Path(__file__).parent.parent / "tattletail.toml"
    assert commands.main(["run", "--config", str(config), str(log)], out, err) == 0
    assert "3 records, 3 matches" in err.getvalue()


def test_a_resolved_value_is_never_shown_in_a_placeholder_warning(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_URL", "xoxb-123456789012-SecretBotTok")  # a bot token pasted for a webhook
    config = tmp_path / "tattletail.toml"
    config.write_text(CONFIG.format(url="${SLACK_URL}"))
    out, err = io.StringIO(), io.StringIO()
    commands.main(["check", "--resolve", str(config)], out, err)
    assert "SecretBotTok" not in out.getvalue() + err.getvalue()
    assert "${SLACK_URL}" in out.getvalue() + err.getvalue()
