"""Exactly-once that survives crashes: real handler processes against moto's server and a local Slack.

The handler runs in a subprocess (``python -c`` importing ``lambda_handler``, with a fake Lambda context)
against a moto server on 127.0.0.1 (``AWS_ENDPOINT_URL``) holding the log object and the DynamoDB state
table, and posts to the local Slack server. A run is SIGKILLed in the middle of its posts and run again
as Lambda would: at once (its claims are live: the retry waits or fails as retryable, it never reports
success for alerts it has not seen delivered) and once the claims have lapsed. Two runs of the same
event at the same time deliver each alert once. Timings are shortened through the runner (a reserve
of 1 s, a claim margin of 1 s, contexts of a few seconds), not by changing the code paths.

The unit tests below them check the same rules in-process (moto in memory): how ``claim`` sorts keys,
when a claim lapses, and how an invocation waits for a claim held elsewhere.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tattletail import handler
from tattletail.delivery import retry
from tattletail.delivery.state import DynamoState, MemoryState, delivery_key, record_key
from tests.helpers import ROOT, FakeSlack, log_bytes, s3_event

BUCKET = "trail"
KEY = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/02/111122223333_CloudTrail_us-east-1_crash.json.gz"
TABLE = "state"
RESERVE = 1.0   # seconds the runner keeps back (the default is 10)
MARGIN = 1.0    # seconds a claim outlives its claimer's deadline (the default is 5)

RUNNER = r"""
import json, os, sys, time

class Context:
    def __init__(self, seconds):
        self.end = time.monotonic() + seconds

    def get_remaining_time_in_millis(self):
        return int((self.end - time.monotonic()) * 1000)

from tattletail import handler
from tattletail.delivery import retry, state

handler.retry_policy = retry.RetryPolicy(attempts=3, base=0.05, cap=0.2, reserve=float(os.environ["RUN_RESERVE"]))
state.CLAIM_MARGIN = float(os.environ["RUN_MARGIN"])
event = json.load(sys.stdin)
context = Context(float(sys.argv[1]))
started = time.time()
try:
    result = handler.lambda_handler(event, context)
except Exception as exc:
    print(json.dumps({"failed": str(exc), "started": started, "ended": time.time()}))
    sys.exit(1)
print(json.dumps({"result": result, "started": started, "ended": time.time()}))
"""


def record(n: int) -> dict[str, Any]:
    return {"eventID": f"00000000-0000-4000-8000-{n:012d}", "eventTime": f"2026-11-02T09:00:{n:02d}Z",
            "recipientAccountId": "111122223333", "eventSource": "iam.amazonaws.com", "eventName": "CreateUser",
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
'''


class SerializedMotoServer:
    """moto's server, one request at a time: DynamoDB makes each conditional write atomic, moto's
    threaded server does not (two processes claiming the same key at the same instant could both win)."""

    def __init__(self) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server

        app = DomainDispatcherApplication(create_backend_app)
        lock = threading.Lock()

        def one_at_a_time(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
            with lock:
                return [b"".join(app(environ, start_response))]

        self.server = make_server("127.0.0.1", 0, one_at_a_time, threaded=True, request_handler=MotoRequestHandler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        import requests

        requests.post(f"{self.url}/moto-api/reset", timeout=10)
        self.server.shutdown()
        self.thread.join()


class Lambda:
    """The function as Lambda would run it: a fresh process per invocation, the same event each time."""

    def __init__(self, tmp_path: Path, moto: SerializedMotoServer, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
                 ) -> None:
        for name in ("AWS_PROFILE", "S3_CONFIG_BUCKET", "S3_CONFIG_PATH", "TATTLETAIL_DLQ_URL", "TATTLETAIL_DLQ_S3"):
            monkeypatch.delenv(name, raising=False)
        credentials = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": moto.url}
        for name, value in credentials.items():
            monkeypatch.setenv(name, value)
        config = tmp_path / "tattletail.toml"
        config.write_text(CONFIG.format(url=slack.url()))
        self.env = {**os.environ, "TATTLETAIL_CONFIG": str(config), "TATTLETAIL_STATE_TABLE": TABLE,
                    "RUN_RESERVE": str(RESERVE), "RUN_MARGIN": str(MARGIN), "PYTHONPATH": str(ROOT)}
        self.slack = slack
        self.dynamodb = boto3.client("dynamodb", endpoint_url=moto.url)
        self.dynamodb.create_table(TableName=TABLE, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                                   AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                                   BillingMode="PAY_PER_REQUEST")
        s3 = boto3.client("s3", endpoint_url=moto.url)
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key=KEY, Body=log_bytes([record(n) for n in range(10)]))
        self.event = json.dumps(s3_event(BUCKET, KEY))

    def start(self, seconds: float) -> subprocess.Popen[str]:
        proc = subprocess.Popen([sys.executable, "-c", RUNNER, str(seconds)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env, cwd=ROOT)
        assert proc.stdin is not None
        proc.stdin.write(self.event)
        proc.stdin.close()
        proc.stdin = None  # written and closed: communicate() must not flush it
        return proc

    def finish(self, proc: subprocess.Popen[str]) -> tuple[int, dict[str, Any], list[dict[str, Any]]]:
        """Exit code, the runner's last line, and the handler's log events."""
        out, err = proc.communicate(timeout=120)
        logs = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
        return proc.returncode, json.loads(out.splitlines()[-1]), logs

    def run(self, seconds: float) -> tuple[int, dict[str, Any], list[dict[str, Any]]]:
        return self.finish(self.start(seconds))

    def kill_at_post(self, n: int, seconds: float) -> None:
        """Start a run and SIGKILL it while Slack holds its ``n``-th post unanswered (not delivered)."""
        self.slack.hang_seconds = 5.0
        self.slack.answer = lambda k: "hang" if k == n else 200
        proc = self.start(seconds)
        until = time.monotonic() + 60
        while self.slack.requests < n and time.monotonic() < until and proc.poll() is None:
            time.sleep(0.01)
        assert self.slack.requests == n, (self.slack.requests, proc.poll())
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
        self.slack.answer = lambda k: 200

    def states(self) -> dict[str, tuple[str, float]]:
        items = self.dynamodb.scan(TableName=TABLE, ConsistentRead=True)["Items"]
        return {i["pk"]["S"]: (i["status"]["S"], float(i.get("lease_until", {"N": "0"})["N"])) for i in items}

    def annotations(self) -> Counter[str]:
        return Counter(b["text"]["text"] for p in self.slack.posts for b in p["blocks"]
                       if b["type"] == "section" and b.get("text", {}).get("text", "").startswith("*Match*"))


ALL = Counter({f"*Match*\n```username: user{n}```": 1 for n in range(10)})


@pytest.fixture
def moto_server() -> Iterator[SerializedMotoServer]:
    server = SerializedMotoServer()
    yield server
    server.close()


@pytest.fixture
def lam(tmp_path: Path, moto_server: SerializedMotoServer, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> Lambda:
    return Lambda(tmp_path, moto_server, slack, monkeypatch)


def events(logs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [e for e in logs if e.get("event") == name]


def test_killed_run_retried_at_once_fails_and_after_the_claims_lapse_delivers_the_rest_once(lam: Lambda) -> None:
    lam.kill_at_post(4, seconds=8)
    assert len(lam.slack.posts) == 3
    states = lam.states()
    assert Counter(s for s, _ in states.values()) == {"delivered": 3, "claimed": 7}
    lapse = max(lease for s, lease in states.values() if s == "claimed")

    # Lambda's retry, at once: the dead run's claims are live. Not a success, and nothing sent twice.
    code, out, logs = lam.run(seconds=3)
    assert code == 1 and "result" not in out
    assert "claimed by another invocation and not confirmed within the time left" in out["failed"]
    assert out["ended"] < lapse and len(lam.slack.posts) == 3
    (awaited,) = events(logs, "claims_awaited")
    assert (awaited["still_held"], awaited["confirmed_elsewhere"], awaited["taken_over"]) == (7, 0, 0)

    # The next retry, once the claims have lapsed: the 7 alerts not delivered, and only those.
    time.sleep(max(0.0, lapse - time.time()) + 0.2)
    code, out, _ = lam.run(seconds=8)
    assert code == 0, out
    assert (out["result"]["alerts_delivered"], out["result"]["duplicates"]) == (7, 3)
    assert lam.annotations() == ALL and len(lam.slack.posts) == 10
    assert Counter(s for s, _ in lam.states().values()) == {"delivered": 10}

    code, out, _ = lam.run(seconds=8)  # the same event once more: nothing new
    assert code == 0 and (out["result"]["deliveries"], out["result"]["duplicates"]) == (0, 10)
    assert len(lam.slack.posts) == 10


def test_killed_run_retried_at_once_waits_for_its_claims_to_lapse_and_takes_them_over(lam: Lambda) -> None:
    lam.kill_at_post(4, seconds=6)
    lapse = max(lease for s, lease in lam.states().values() if s == "claimed")
    code, out, logs = lam.run(seconds=max(0.0, lapse - time.time()) + 5)  # time enough to outwait them
    assert code == 0, out
    assert out["result"]["alerts_delivered"] == 7 and out["result"]["duplicates"] == 3
    (awaited,) = events(logs, "claims_awaited")
    assert (awaited["taken_over"], awaited["still_held"]) == (7, 0)
    assert lam.annotations() == ALL and len(lam.slack.posts) == 10


def test_two_runs_of_one_event_at_the_same_time_deliver_each_alert_once(lam: Lambda) -> None:
    answered: list[float] = []

    def slow(n: int) -> int:  # a slow Slack, so that the runs overlap
        time.sleep(0.3)
        answered.append(time.time())
        return 200

    lam.slack.answer = slow
    runs = [lam.start(20), lam.start(20)]
    (code_a, out_a, logs_a), (code_b, out_b, logs_b) = (lam.finish(p) for p in runs)
    assert (code_a, code_b) == (0, 0), (out_a, out_b)
    assert lam.annotations() == ALL and len(lam.slack.posts) == 10
    a, b = out_a["result"], out_b["result"]
    assert a["alerts_delivered"] + b["alerts_delivered"] == 10
    assert a["alerts_delivered"] + a["duplicates"] == 10 and b["alerts_delivered"] + b["duplicates"] == 10
    # Each counted the other's alerts only once it had seen them delivered: after the last post.
    assert out_a["ended"] >= answered[-1] and out_b["ended"] >= answered[-1]
    awaited = events(logs_a, "claims_awaited") + events(logs_b, "claims_awaited")
    assert sum(e["confirmed_elsewhere"] for e in awaited) > 0  # the runs did overlap
    assert all(e["still_held"] == 0 for e in awaited)


# In-process: the rules the processes above rely on.

class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def table(aws: None) -> Any:
    client = boto3.client("dynamodb", region_name="us-east-1")
    client.create_table(TableName=TABLE, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                        BillingMode="PAY_PER_REQUEST")
    return client


def test_a_claim_ends_at_the_claimers_deadline_plus_the_margin(table: Any) -> None:
    clock = Clock()
    state = DynamoState(TABLE, table, time_left=lambda: 42.0, margin=5.0, clock=clock)
    assert state.claim(["k"]).mine == ["k"]
    item = table.get_item(TableName=TABLE, Key={"pk": {"S": "k"}})["Item"]
    assert float(item["lease_until"]["N"]) == clock.now + 47.0
    unbounded = DynamoState(TABLE, table, lease=1200, margin=5.0, clock=clock)  # the command line
    assert unbounded.lease_until(clock.now) == clock.now + 1205.0


def test_claim_sorts_keys_into_mine_done_and_held_and_never_counts_a_live_claim_as_done(table: Any) -> None:
    clock = Clock()
    mine = DynamoState(TABLE, table, time_left=lambda: 10.0, margin=1.0, clock=clock)
    other = DynamoState(TABLE, table, time_left=lambda: 60.0, margin=1.0, clock=clock)
    assert mine.claim(["a", "b", "c", "d"]).mine == ["a", "b", "c", "d"]
    mine.confirm(["a"])
    mine.park(["b"])
    mine.release(["d"])
    claims = other.claim(["a", "b", "c", "d"])
    assert (claims.mine, sorted(claims.done), claims.held) == (["d"], ["a", "b"], {"c": clock.now + 11.0})
    assert other.look(["a", "c", "d", "e"]).free == ["e"]
    clock.now += 11.5  # c's claimer is past its deadline and margin: the claim lapsed
    looked = other.look(["c"])
    assert (looked.free, looked.held) == (["c"], {})
    assert other.claim(["c"]).mine == ["c"]
    third = DynamoState(TABLE, table, time_left=lambda: 5.0, margin=1.0, clock=clock)
    assert third.claim(["c"]).held == {"c": clock.now + 61.0}


def test_memory_state_reports_a_key_claimed_and_not_confirmed_as_held() -> None:
    state = MemoryState()
    assert state.claim(["a", "b"]).mine == ["a", "b"]
    state.confirm(["a"])
    again = state.claim(["a", "b"])
    assert (again.mine, again.done, list(again.held)) == ([], ["a"], ["b"])


@pytest.fixture
def world(table: Any, tmp_path: Path, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> Any:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=log_bytes([record(n) for n in range(3)]))
    config = tmp_path / "tattletail.toml"
    config.write_text(CONFIG.format(url=slack.url()))
    monkeypatch.setenv("TATTLETAIL_CONFIG", str(config))
    monkeypatch.setenv("TATTLETAIL_STATE_TABLE", TABLE)
    monkeypatch.setattr(handler, "retry_policy", retry.RetryPolicy(attempts=2, base=0.01, cap=0.05, reserve=1.0))
    return table


class Context:
    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def get_remaining_time_in_millis(self) -> int:
        return int((self.end - time.monotonic()) * 1000)


def foreign_claim(table: Any, n: int, lease_until: float) -> str:
    key = delivery_key(record_key(record(n)), "Create User", "Slack")
    table.put_item(TableName=TABLE, Item={"pk": {"S": key}, "status": {"S": "claimed"},
                                          "lease_until": {"N": str(lease_until)}})
    return key


def test_a_claim_confirmed_elsewhere_while_waiting_counts_as_a_duplicate(world: Any, slack: FakeSlack,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    key = foreign_claim(world, 1, time.time() + 300)
    waits: list[float] = []

    def sleep(seconds: float) -> None:  # the other invocation confirms while this one waits
        waits.append(seconds)
        if len(waits) == 2:
            world.update_item(TableName=TABLE, Key={"pk": {"S": key}}, UpdateExpression="SET #s = :d",
                              ExpressionAttributeNames={"#s": "status"},
                              ExpressionAttributeValues={":d": {"S": "delivered"}})

    monkeypatch.setattr(retry, "_sleep", sleep)
    result = handler.lambda_handler(s3_event(BUCKET, KEY), Context(30))
    assert (result["alerts_delivered"], result["duplicates"]) == (2, 1) and len(slack.posts) == 2
    assert len(waits) == 2 and waits[1] == 2 * waits[0]  # polled, with growing waits


def test_a_claim_held_elsewhere_past_the_time_left_fails_the_invocation(world: Any, slack: FakeSlack) -> None:
    foreign_claim(world, 1, time.time() + 300)
    context = Context(3)
    with pytest.raises(Exception, match='rule "Create User" -> destination "Slack" \\(1 alerts\\): claimed by '
                                        'another invocation and not confirmed within the time left'):
        handler.lambda_handler(s3_event(BUCKET, KEY), context)
    assert len(slack.posts) == 2  # the other two were delivered
    assert context.get_remaining_time_in_millis() > 0  # it waited, but not past its end
