from __future__ import annotations

import gzip
import io
import json
from pathlib import Path
from typing import Any

import pytest

from tattletail import commands as cli
from tests.helpers import BENCH, ROOT, FakeSlack


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return cli.main(list(args), out, err), out.getvalue(), err.getvalue()


@pytest.mark.parametrize("config_path", [ROOT / "tattletail.toml", BENCH / "rules10.toml"], ids=lambda p: p.name)
def test_replay_with_two_workers_gives_the_same_matches_as_run(config_path: Path, corpus) -> None:
    if not config_path.exists():
        pytest.skip(f"{config_path} is absent")
    files = [str(p) for p in corpus]
    code, run_out, run_err = run_cli("run", "--config", str(config_path), "--format", "jsonl", *files)
    # rules10's non-read-api and sts-botocore-session fail on 52 corpus records: not a clean run (exit 1)
    errored = ", 0 rule errors" not in run_err
    assert code == (1 if errored else 0), run_err
    code, replay_out, replay_err = run_cli("replay", "--config", str(config_path), "--format", "jsonl",
                                           "--workers", "2", *files)
    assert code == (1 if errored else 0), replay_err
    run_rows = [json.loads(line) for line in run_out.splitlines()]
    assert run_rows and [json.loads(line) for line in replay_out.splitlines()] == run_rows
    assert "15,715 records" in replay_err


def test_replay_table_lists_every_rule_with_top_annotations(tmp_path: Path) -> None:
    log = tmp_path / "AWSLogs" / "111122223333" / "CloudTrail" / "us-east-1" / "2026" / "11" / "02" / "a.json.gz"
    log.parent.mkdir(parents=True)
    records = [{"eventName": "CreateUser", "responseElements": {"user": {"userName": name}}}
               for name in ("a", "b", "a", "a")]
    log.write_bytes(gzip.compress(json.dumps({"Records": records}).encode()))
    digest = tmp_path / "AWSLogs" / "111122223333" / "CloudTrail-Digest" / "us-east-1" / "2026/11/02/d.json.gz"
    digest.parent.mkdir(parents=True)
    digest.write_bytes(b"x")
    code, out, _ = run_cli("replay", "--config", str(ROOT / "tattletail.toml"), "--workers", "1", str(tmp_path))
    assert code == 0
    lines = out.splitlines()
    create = lines.index(next(line for line in lines if line.startswith("Create User ")))
    assert lines[create].split()[-2:] == ["4", "100.00%"]  # matches, and their share of the records
    assert lines[create + 1].split() == ["3", "username:", "a"] and lines[create + 2].split() == ["1", "username:", "b"]
    quiet = [line for line in lines if line.startswith("SSM Start Session")]  # quiet rules are listed too
    assert [line.split()[-2:] for line in quiet] == [["0", "0.00%"]]
    assert "1 files, 4 records, 4 matches" in out


def test_replay_send_delivers_every_file_with_workers_asked(tmp_path: Path, slack: FakeSlack) -> None:
    config_path = tmp_path / "c.toml"
    config_path.write_text(f'''
[[rule]]
name = "Create User"
jq_match = 'select(.eventName == "CreateUser") | .requestParameters.userName'
destinations = ["Slack"]
[[destination]]
id = "Slack"
type = "slack_webhook"
webhook_url = "{slack.url()}"
''')
    for n in range(3):
        (tmp_path / f"{n}.json").write_text(json.dumps({"Records": [{"eventName": "CreateUser",
                                                                     "requestParameters": {"userName": f"u{n}"}}]}))
    code, out, err = run_cli("replay", "--config", str(config_path), "--send", "--workers", "2", str(tmp_path))
    assert code == 0, err
    annotations = sorted(block["text"]["text"] for post in slack.posts for block in post["blocks"]
                         if block["type"] == "section" and "text" in block and "*Match*" in block["text"]["text"])
    assert annotations == ["*Match*\n```u0```", "*Match*\n```u1```", "*Match*\n```u2```"]
    assert "3 alerts delivered, 0 failed deliveries" in out  # counted as `run` counts them


def test_replay_send_delivers_a_record_found_in_two_files_once(tmp_path: Path, slack: FakeSlack) -> None:
    config_path = tmp_path / "c.toml"
    config_path.write_text(f'''
[[rule]]
name = "Create User"
jq_match = 'select(.eventName == "CreateUser") | .requestParameters.userName'
destinations = ["Slack"]
[[destination]]
id = "Slack"
type = "slack_webhook"
webhook_url = "{slack.url()}"
''')
    record = {"eventName": "CreateUser", "eventID": "same-event", "requestParameters": {"userName": "u"}}
    for name in ("a.json", "b.json"):  # real trails deliver a record in more than one file
        (tmp_path / name).write_text(json.dumps({"Records": [record]}))
    code, out, err = run_cli("replay", "--config", str(config_path), "--send", "--workers", "2",
                             str(tmp_path / "a.json"), str(tmp_path / "b.json"))
    assert code == 0, err
    assert len(slack.posts) == 1
    assert "1 alerts delivered" in out


def test_replay_reports_unreadable_files_and_goes_on(tmp_path: Path) -> None:
    (tmp_path / "bad.json.gz").write_bytes(b"\x1f\x8b\x08 broken")
    (tmp_path / "good.json").write_text(json.dumps({"Records": [{"eventName": "CreateUser"}]}))
    code, out, err = run_cli("replay", "--config", str(ROOT / "tattletail.toml"), "--workers", "1", str(tmp_path))
    assert code == 1 and "bad.json.gz: cannot decompress" in err and "2 files, 1 records, 1 matches" in out


@pytest.mark.parametrize("value", [
    {"eventName": "GetObject", "n": 1, "f": 2.5, "s": "é\u2028\x01\"\\", "l": [None, True, {}]},
    "an annotation", 12345678901234567, 2**70, float("inf"), float("nan"), -0.0, 1e22, "\ud800", {"k": [1e-7]},
])
def test_jsonl_rows_mean_what_json_writes(value: Any) -> None:
    """``orjson`` writes rows where it means the same as ``json``; elsewhere (inexact numbers, lone
    surrogates) ``json`` writes them, as before."""
    from tattletail.commands.rows import jsonl
    from tattletail.jq.recordtext import exact

    row = {"rule": "r", "file": "f.json", "index": 3, "eventID": "e", "match": value}
    line = jsonl(row)
    assert "\n" not in line
    reference = json.dumps(row, ensure_ascii=False, separators=(",", ":"))
    if exact(value):
        assert json.loads(line) == json.loads(reference)
    else:
        assert line == reference


@pytest.mark.parametrize("verb", ["run", "replay"])
def test_records_the_reader_skips_are_counted_and_fail_the_command(verb: str, tmp_path: Path) -> None:
    # a record that is no object is skipped by the reader: never evaluated, so a rule may have missed it
    log = tmp_path / "a.json"
    log.write_text('{"Records": [{"eventName": "CreateUser"}, 42, "text", {"eventName": "GetObject"}]}')
    extra = ["--workers", "1"] if verb == "replay" else []
    code, out, err = run_cli(verb, "--config", str(ROOT / "tattletail.toml"), *extra, str(log))
    assert code == 1, err
    assert "2 records unreadable" in (err if verb == "run" else out)
    if verb == "replay":
        code, out, _ = run_cli(verb, "--config", str(ROOT / "tattletail.toml"), "--format", "json", *extra, str(log))
        assert code == 1 and json.loads(out)["unreadable_records"] == 2


def test_a_clean_file_says_nothing_of_unreadable_records(tmp_path: Path) -> None:
    log = tmp_path / "a.json"
    log.write_text('{"Records": [{"eventName": "GetObject"}]}')
    code, _, err = run_cli("run", "--config", str(ROOT / "tattletail.toml"), str(log))
    assert code == 0 and "unreadable" not in err
