"""What an outside attack found after the first-hour work (issue 16): a run whose rules errored looked
clean, usage errors exited 1, a runtime-only install answered with ModuleNotFoundError, ``check`` hid its
warnings behind errors, and ``--since``/``--until`` compared eventTime as text."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tattletail import commands as cli
from tests.helpers import ROOT, log_bytes

CONFIG = str(ROOT / "tattletail.toml")
EXAMPLE = str(ROOT / "examples" / "cloudtrail-example.json")

FAILING_RULE = """\
[[rule]]
name = "Lowercase name"
jq_match = '.eventName | ascii_downcase == "createuser"'
"""


def cli_run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return cli.main(list(argv), out, err), out.getvalue(), err.getvalue()


def write(path: Path, text: str) -> str:
    path.write_text(text, "utf-8")
    return str(path)


# --- 1. rule errors are not a clean run ------------------------------------------------------------------

def test_run_whose_rule_errored_on_every_record_exits_1_naming_rule_count_and_first_event(tmp_path: Path) -> None:
    config = write(tmp_path / "t.toml", FAILING_RULE)
    logs = tmp_path / "a.json.gz"
    logs.write_bytes(log_bytes([{"eventTime": "2026-11-02T09:00:00Z", "eventName": None, "eventID": f"e{n}"}
                                for n in range(3)]))
    code, out, err = cli_run("run", "--config", config, str(logs))
    assert code == 1
    assert "rule 'Lowercase name' failed on 3 records (first: " in err and "eventID e0)" in err
    assert "3 records, 0 matches, 3 rule errors" in err


def test_run_without_rule_errors_stays_0(tmp_path: Path) -> None:
    config = write(tmp_path / "t.toml", FAILING_RULE)
    logs = tmp_path / "a.json.gz"
    logs.write_bytes(log_bytes([{"eventTime": "2026-11-02T09:00:00Z", "eventName": "CreateUser", "eventID": "e"}]))
    code, _, err = cli_run("run", "--config", config, str(logs))
    assert code == 0, err


def test_replay_with_rule_errors_exits_1_and_help_says_so(tmp_path: Path) -> None:
    config = write(tmp_path / "t.toml", FAILING_RULE)
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "a.json.gz").write_bytes(log_bytes([{"eventName": 7, "eventID": "x1"}]))
    code, out, _ = cli_run("replay", "--config", config, "--workers", "1", str(tmp_path / "logs"))
    assert code == 1 and "rule errors: 'Lowercase name': 1 (first: " in out
    assert "a rule that failed at run\n     time on some record" in cli.EXIT_CODES
    assert "a rule that failed at run time on some record" in (ROOT / "README.md").read_text("utf-8")


# --- 2. usage errors exit 2; a runtime-only install names the extra ----------------------------------------

@pytest.mark.parametrize("store", ["http://nope", "https://sqs.us-east-1.amazonaws.com/", "s3://",
                                   "https://example.com/queue?x=1", "./letters"])
def test_redrive_of_what_is_no_store_is_a_usage_error(store: str) -> None:
    code, out, err = cli_run("redrive", "--config", CONFIG, store)
    assert code == 2 and out == ""
    assert err.startswith(f"error: {store!r} is not a dead-letter store (") and "s3://bucket/prefix" in err


@pytest.mark.parametrize("store", ["https://sqs.us-east-1.amazonaws.com/123456789012/dlq",
                                   "http://localhost:4566/000000000000/dead-letters.fifo", "s3://bucket/dead"])
def test_redrive_store_shapes_that_are_stores(store: str) -> None:
    from tattletail.commands.redrive import store_problem

    assert store_problem(store) is None


@pytest.mark.parametrize("argv", [
    ["replay", "--config", CONFIG, "s3://"],
    ["report", "sessions", "s3:///prefix"],
    ["backfill", "manifest", "s3://"],
    ["backfill", "manifest", "./logs"],
    ["render", "--config", CONFIG, "--rule", "Nope", EXAMPLE],
    ["policy", "--config", CONFIG, "--account-id", "abc"],
    ["replay", "--config", CONFIG, "--since", "2026-11-02", "--until", "2026-11-01", EXAMPLE],
    ["report", "sessions", "--since", "2026-11-02", "--until", "2026-11-01", EXAMPLE],
    ["backfill", "manifest", "--since", "2026-11-02", "--until", "2026-11-01", "s3://trail/"],
    ["replay", "--config", CONFIG, "--workers", "0", EXAMPLE],
    ["report", "sessions", "--workers", "-1", EXAMPLE],
])
def test_bad_arguments_of_every_verb_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    try:
        code, _, err = cli_run(*argv)
    except SystemExit as exc:  # argparse's own usage errors: the message on stderr
        code, err = int(exc.code or 0), capsys.readouterr().err
    assert code == 2, err
    assert "error: " in err and "Traceback" not in err


BLOCK_AWS = """\
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in ("boto3", "botocore"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Block())
from tattletail.commands import main
sys.exit(main())
"""

SNS_CONFIG = """\
[[destination]]
id = "Topic"
type = "sns"
sns_arn = "arn:aws:sns:us-east-1:123456789012:alerts"

[[destination]]
id = "Slack"
type = "slack_webhook"
webhook_url = "ssm:/tattletail/slack"

[[rule]]
name = "Create User"
jq_match = 'select(.eventName == "CreateUser")'
destinations = ["Topic"]
"""


@pytest.mark.parametrize("argv", [
    ["run", "--send", "--config", "{config}", EXAMPLE],
    ["replay", "--config", "{config}", "s3://bucket/AWSLogs/"],
    ["report", "sessions", "s3://bucket/AWSLogs/"],
    ["backfill", "manifest", "s3://bucket/AWSLogs/"],
    ["redrive", "--config", "{sns_only}", "s3://bucket/dead"],
    ["redrive", "--config", "{sns_only}", "https://sqs.us-east-1.amazonaws.com/123456789012/dlq"],
    ["check", "--resolve", "{config}"],
])
def test_without_boto3_every_verb_names_the_extra_to_install(tmp_path: Path, argv: list[str]) -> None:
    """As in the `make demo` virtualenv (runtime dependencies only): boto3 and botocore cannot be imported."""
    config = write(tmp_path / "t.toml", SNS_CONFIG)
    sns_only = write(tmp_path / "sns.toml", SNS_CONFIG.replace('webhook_url = "ssm:/tattletail/slack"',
                                                               'webhook_url = "https://hooks.slack.com/services/T/B/x"'))
    args = [a.format(config=config, sns_only=sns_only) for a in argv]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "AWS_DEFAULT_REGION": "us-east-1"}
    done = subprocess.run([sys.executable, "-c", BLOCK_AWS, *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120, env=env)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and "No module named" not in done.stderr
    assert "pip install 'tattletail[aws]'" in done.stderr


# --- 3. check shows warnings with its errors --------------------------------------------------------------

def test_check_shows_warnings_after_the_errors(tmp_path: Path) -> None:
    config = write(tmp_path / "t.toml", """\
[[rule]]
name = "Everything"
jq_match = "true"

[[rule]]
name = "Broken"
jq_match = "select("
""")
    code, out, err = cli_run("check", config)
    assert code == 1 and out == ""
    lines = err.splitlines()
    problem = next(i for i, line in enumerate(lines) if "rule 'Broken': invalid jq_match" in line)
    warnings = [i for i, line in enumerate(lines) if line.startswith("warning: ")]
    assert warnings and all(i > problem for i in warnings)
    assert any("jq_match 'true' matches every record" in lines[i] for i in warnings)
    assert any("rule 'Everything': no destinations" in lines[i] for i in warnings)
    assert lines[-1] == f"1 problem(s) found, {len(warnings)} warning(s)"


# --- 5. --since/--until compare instants --------------------------------------------------------------------

def _times(tmp_path: Path, times: list[object]) -> str:
    folder = tmp_path / "history"
    folder.mkdir()
    records = [{"eventName": "CreateUser", "eventTime": when, "eventID": f"e{n}",
                "responseElements": {"user": {"userName": f"u{n}"}}} for n, when in enumerate(times)]
    (folder / "mixed.json.gz").write_bytes(log_bytes(records))
    return str(folder)


def test_replay_window_compares_event_times_as_instants(tmp_path: Path) -> None:
    folder = _times(tmp_path, [
        "2026-11-02T00:30:00+02:00",      # e0: 2026-11-01T22:30Z: before the window
        "2026-11-01T23:30:00-02:00",      # e1: 2026-11-02T01:30Z: inside, though its text says the 1st
        "2026-11-02T09:25:00.123456Z",    # e2: fractional seconds
        "2026-11-02",                     # e3: a bare date is midnight UTC: inside
        "2026-11-02T23:59:59.999Z",       # e4: the last instant of the day
        "2026-11-03T00:00:00Z",           # e5: the next day
        "2026-11-02T20:00:00-05:00",      # e6: 2026-11-03T01:00Z: after, though its text says the 2nd
    ])
    code, out, err = cli_run("replay", "--config", CONFIG, "--workers", "1", "--format", "jsonl",
                             "--since", "2026-11-02", "--until", "2026-11-02", folder)
    assert code == 0, err
    assert [json.loads(line)["eventID"] for line in out.splitlines()] == ["e1", "e2", "e3", "e4"]


def test_replay_reports_records_whose_event_time_cannot_be_read(tmp_path: Path) -> None:
    folder = _times(tmp_path, ["2026-11-02T09:00:00Z", "yesterday", None, "2026-11-02T10:00:00Z"])
    code, out, err = cli_run("replay", "--config", CONFIG, "--workers", "1", "--format", "jsonl",
                             "--since", "2026-11-02", folder)
    assert [json.loads(line)["eventID"] for line in out.splitlines()] == ["e0", "e3"]
    assert code == 1
    assert ("2 records with an unreadable eventTime were not evaluated (--since/--until cannot place them; "
            "first: eventTime 'yesterday'; eventID e1)") in err
    # without a window nothing needs placing: every record is evaluated
    code, out, err = cli_run("replay", "--config", CONFIG, "--workers", "1", "--format", "jsonl", folder)
    assert code == 0 and len(out.splitlines()) == 4, err


def test_report_sessions_window_compares_instants_and_reports_unreadable_times(tmp_path: Path) -> None:
    who = {"type": "IAMUser", "userName": "eve", "arn": "arn:aws:iam::111122223333:user/eve"}
    base = {"eventSource": "ssm.amazonaws.com", "eventName": "StartSession", "userIdentity": who,
            "requestParameters": {"target": "i-1"}, "awsRegion": "us-east-1"}
    records = [{**base, "eventTime": when, "responseElements": {"sessionId": f"eve-{n}"}}
               for n, when in enumerate(["2026-11-01T23:30:00-02:00", "2026-11-02T00:30:00+02:00", "soon"])]
    folder = tmp_path / "h"
    folder.mkdir()
    (folder / "a.json.gz").write_bytes(log_bytes(records))
    code, out, err = cli_run("report", "sessions", "--format", "json", "--workers", "1",
                             "--since", "2026-11-02", "--until", "2026-11-02", str(folder))
    assert code == 1
    report = json.loads(out)
    assert report["per_day"] == [{"day": "2026-11-02", "sessions": 1}]
    assert "1 records with an unreadable eventTime were not evaluated" in err and "'soon'" in err


# --- 4. JSON names, not Python's ----------------------------------------------------------------------------

@pytest.mark.parametrize("value, name", [(None, "null"), ([1], "array"), ("x", "string"), (3, "number"),
                                         (2.5, "number"), (True, "boolean")])
def test_skipped_records_and_events_are_named_by_their_json_type(value: object, name: str) -> None:
    from tattletail.errors import SourceError
    from tattletail.inputs import events
    from tattletail.inputs.logfile import iter_records

    skipped: list[tuple[int, str]] = []
    data = log_bytes([{"eventName": "CreateUser"}, value])
    list(iter_records(io.BytesIO(data), "obj", lambda index, why: skipped.append((index, why))))
    assert skipped == [(1, f"record is a JSON {name}, not an object")]
    with pytest.raises(SourceError, match=f"^event is a JSON {name}, not an object$"):
        events.parse(value)
    parsed = events.parse({"Records": [{"eventSource": "aws:sqs", "messageId": "m", "body": json.dumps(value)}]})
    assert parsed.items[0].problem == f"SQS message m: a JSON {name}, not an event"


# --- 6. the placeholder warning, once per run ---------------------------------------------------------------

BLOG_CONFIG = """\
[[rule]]
name = "Create User"
jq_match = 'select(.eventName == "CreateUser")'
destinations = ["Slack Audit"]

[[destination]]
id = "Slack Audit"
type = "slack_webhook"
webhook_url = "___YOUR_SLACK_WEBHOOK___"
"""


@pytest.mark.parametrize("extra", [[], ["--format", "jsonl"], ["--format", "json"], ["--workers", "1"],
                                   ["--since", "2026-11-01"]])
def test_replay_prints_the_placeholder_warning_once_per_run(tmp_path: Path, extra: list[str]) -> None:
    """In its own process (as a shell runs it), over several files and worker processes."""
    config = write(tmp_path / "blog.toml", BLOG_CONFIG)
    folder = tmp_path / "logs"
    folder.mkdir()
    for n in range(4):
        (folder / f"{n}.json").write_text((ROOT / "examples" / "cloudtrail-example.json").read_text("utf-8"))
    done = subprocess.run([sys.executable, "-c", "import sys; from tattletail.commands import main; sys.exit(main())",
                           "replay", "--config", config, "--workers", "2", *extra, str(folder)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (done.stdout + done.stderr).count("is a placeholder") == 1


@pytest.mark.parametrize("verb", [["run", "--config", CONFIG], ["replay", "--config", CONFIG, "--workers", "1"],
                                  ["report", "sessions", "--workers", "1"]])
def test_a_file_named_that_is_no_cloudtrail_log_fails(verb: list[str], tmp_path: Path) -> None:
    garbage = write(tmp_path / "notes.json", "not json at all")
    code, _, err = cli_run(*verb, garbage)
    assert code == 1 and "skipped: " in err and "notes.json" in err
    # met inside a directory beside a log, the same file is only counted
    write(tmp_path / "log.json", json.dumps({"Records": [{"eventName": "GetObject"}]}))
    code, _, err = cli_run(*verb, str(tmp_path))
    assert code == 0, err


@pytest.mark.parametrize("verb", [["run", "--config", CONFIG], ["replay", "--config", CONFIG, "--workers", "1"],
                                  ["report", "sessions", "--workers", "1"]])
def test_an_empty_directory_is_no_clean_run(verb: list[str], tmp_path: Path) -> None:
    code, _, err = cli_run(*verb, str(tmp_path))
    assert code == 1 and f"no CloudTrail log files found in {tmp_path}" in err


def test_an_empty_prefix_is_no_clean_backfill(aws: None) -> None:
    import boto3

    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="empty")
    code, _, err = cli_run("backfill", "manifest", "s3://empty/AWSLogs/")
    assert code == 1 and "no CloudTrail log files found in s3://empty/AWSLogs/" in err
