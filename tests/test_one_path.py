"""One evaluation path: a rule means the same in ``tattletail test``, ``run``, ``render`` and the Lambda.

Each case is a rule and a record; the rule is written as a pack with a ``[[rule.test]]`` stating the
match and annotation, run through every command and through ``lambda_handler`` (moto S3 and SNS, the
SNS message read back through an SQS subscription), and every path must report the same value.
Rules in the compiled subset and rules only libjq runs are both covered, and a rule that errors."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from tattletail import commands, handler
from tattletail.engine import Engine
from tattletail.rules import Rule
from tests.helpers import log_bytes, s3_event
from tests.test_handler import World

RECORD = {"eventVersion": "1.08", "eventTime": "2026-11-02T09:15:41Z", "eventSource": "iam.amazonaws.com",
          "eventName": "CreateUser", "awsRegion": "us-east-1", "sourceIPAddress": "203.0.113.40",
          "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/ops", "userName": "ops",
                           "accountId": "123456789012"},
          "requestParameters": {"userName": "user1", "tags": [{"key": "team", "value": "blue"}]},
          "responseElements": None, "eventID": "3b1f7a9e-0000-4e57-8d2c-000000000002",
          "recipientAccountId": "123456789012"}

CASES = {  # name -> (jq_match, expected value; None: no match)
    "compiled annotation": ('select(.eventName == "CreateUser") | "user: \\(.requestParameters.userName)"',
                            "user: user1"),
    "libjq annotation": ('select(.eventName == "CreateUser") | reduce .requestParameters.tags[] as $t ("";'
                         ' . + $t.key + "=" + $t.value)', "team=blue"),
    "object annotation": ('select(.eventName == "CreateUser") | {who: .userIdentity.userName, n: 1.0}',
                          {"who": "ops", "n": 1}),
    "true": ('.eventName == "CreateUser"', True),
    "null request parameters": ('select(.responseElements | has("user") | not) | "no user"', "no user"),
    "error is no match": ('.requestParameters.userName | test(1)', None),
    "close miss": ('select(.eventName == "DeleteUser")', None),
}


def engine_value(program: str) -> Any:
    (match,) = Engine([Rule.compiled("r", program)]).evaluate(RECORD) or [None]
    return None if match is None else match.value


def pack(tmp_path: Path, name: str, program: str, expected: Any) -> Path:
    case = {"match": expected is not None, "record": json.dumps(RECORD)}
    if isinstance(expected, str | dict):
        case["annotation"] = expected
    lines = ["[[rule]]", f"name = {json.dumps(name)}", f"jq_match = {json.dumps(program)}",
             'description = "same everywhere"', "", "[[rule.test]]"]
    lines += [f"{key} = {json.dumps(value) if not isinstance(value, dict) else _inline(value)}"
              for key, value in case.items()]
    path = tmp_path / "pack.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _inline(value: dict[str, Any]) -> str:
    return "{ " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in value.items()) + " }"


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = commands.main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("name", list(CASES))
def test_test_run_render_and_lambda_agree(name: str, world: World, tmp_path: Path) -> None:
    program, expected = CASES[name]
    assert engine_value(program) == expected

    code, out, _ = cli("test", str(pack(tmp_path, name, program, expected)))  # the pack's own case
    assert (code, out.splitlines()[0]) == (0, ".")

    world.write_config(f"[[rule]]\nname = {json.dumps(name)}\njq_match = {json.dumps(program)}\n"
                       'description = "same everywhere"\ndestinations = ["Default SNS"]\n')
    log = tmp_path / "log.json"
    log.write_bytes(log_bytes([RECORD], gz=False))
    code, out, _ = cli("run", "--config", str(world.config_path), "--format", "jsonl", str(log))
    rows = [json.loads(line) for line in out.splitlines()]
    assert [row["match"] for row in rows] == ([] if expected is None else [expected if expected is not True else True])

    single = tmp_path / "record.json"
    single.write_text(json.dumps(RECORD))
    code, out, _ = cli("render", "--config", str(world.config_path), str(single))
    if expected is None:
        assert code == 1 and out == ""
    else:
        header, subject, blank, message = out.split("\n")[:4]  # "=== rule ... ===", Subject:, "", the message
        assert header.startswith(f"=== rule {name!r} -> destination 'Default SNS'") and subject.startswith("Subject:")
        assert json.loads(message)["match"] == expected

    world.s3.put_object(Bucket="trail-bucket", Key="k.json.gz", Body=log_bytes([RECORD]))
    result = handler.lambda_handler(s3_event("trail-bucket", "k.json.gz"), None)
    payloads = world.sns_payloads()
    assert result["matches"] == (0 if expected is None else 1)
    assert [p["match"] for p in payloads] == ([] if expected is None else [expected])


@pytest.fixture
def world(aws: None, tmp_path: Path, slack: Any, monkeypatch: pytest.MonkeyPatch) -> World:
    return World(tmp_path, slack, monkeypatch)
