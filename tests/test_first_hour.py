"""A new user's first hour (issue 16): every command behaves like a good Unix tool.

The config of the best-known blog post about the Go tool loads unchanged and dry-runs; ``check`` says
everything at once, in TOML's words; commands take directories, stay quiet on a closed pipe, exit 0/1/2
as documented, and fail without tracebacks.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tattletail import __version__
from tattletail import commands as cli
from tattletail.config import loader
from tattletail.errors import ConfigError
from tests.helpers import ROOT, FakeSlack, log_bytes

EXAMPLE = str(ROOT / "examples" / "cloudtrail-example.json")
CONFIG = str(ROOT / "tattletail.toml")

# The config of the blog post, in the Go tool's format, as people copy it: the webhook not filled in.
BLOG_CONFIG = """\
[[rule]]
name = "Create User"
jq_match = 'select(.eventName == "CreateUser") | "username: \\(.responseElements.user.userName)"'
description = "A new IAM user has been created"
destinations = ["Slack Audit"]

[[destination]]
id = "Slack Audit"
type = "slack_webhook"
webhook_url = "___YOUR_SLACK_WEBHOOK___"
"""


def cli_run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return cli.main(list(argv), out, err), out.getvalue(), err.getvalue()


def write(path: Path, text: str) -> str:
    path.write_text(text, "utf-8")
    return str(path)


def command(*argv: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """The installed command line, in its own process (as a shell runs it)."""
    code = "import sys; from tattletail.commands import main; sys.exit(main())"
    return subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, cwd=ROOT,
                          timeout=120, **kwargs)  # type: ignore[call-overload]


# --- the blog config and placeholders ---------------------------------------------------------------

def test_blog_config_checks_with_a_warning_that_shows_what_is_expected(tmp_path: Path) -> None:
    code, out, err = cli_run("check", write(tmp_path / "blog.toml", BLOG_CONFIG))
    assert code == 0, err
    assert "OK, 1 rules, 1 destinations (slack_webhook 1), 1 warning(s)" in out
    assert ("warning: " + str(tmp_path / "blog.toml") + ": destination 'Slack Audit': webhook_url "
            "'___YOUR_SLACK_WEBHOOK___' is a placeholder, not a Slack webhook URL "
            "(expected https://hooks.slack.com/services/...); dry runs work, sending does not") in err
    assert ":///" not in err and "***" not in err  # never the garbled mask


def test_blog_config_dry_runs(tmp_path: Path) -> None:
    code, out, err = cli_run("run", "--config", write(tmp_path / "blog.toml", BLOG_CONFIG), EXAMPLE)
    assert code == 0, err
    assert out == "[Create User] 2026-11-20T10:02:55Z CreateUser by bob: username: deploy-bot\n"
    assert "1 files, 7 records, 1 matches, 0 rule errors" in err


def test_blog_config_refuses_to_send(tmp_path: Path) -> None:
    code, out, err = cli_run("run", "--send", "--config", write(tmp_path / "blog.toml", BLOG_CONFIG), EXAMPLE)
    assert code == 1 and out == ""
    assert "'___YOUR_SLACK_WEBHOOK___' is a placeholder" in err and "it cannot send" in err
    assert "expected https://hooks.slack.com/services/..." in err


def test_the_lambda_refuses_a_placeholder_a_rule_sends_to() -> None:
    with pytest.raises(ConfigError, match=r"placeholder.*it cannot send"):
        loader.loads(BLOG_CONFIG, sending=True)
    unused = BLOG_CONFIG.replace('destinations = ["Slack Audit"]\n', "")
    config = loader.loads(unused, sending=True)  # a destination no rule uses cannot send anything wrong
    assert any("placeholder" in w for w in config.warnings)


@pytest.mark.parametrize(("url", "shown"), [
    ("", "''"),
    ("CHANGEME", "'CHANGEME'"),
    ("<your webhook here>", "'<your webhook here>'"),
    ("https://hooks.slack.com/services/YOUR/WEBHOOK/URL", "https://hooks.slack.com/***"),
    ("___SLACK___/services/T0/B0/secretpart", "(not shown)"),  # a URL without a scheme is an error, not this
])
def test_unusable_webhook_urls_are_placeholders(url: str, shown: str) -> None:
    config = loader.loads(BLOG_CONFIG.replace("___YOUR_SLACK_WEBHOOK___", url))
    (warning,) = config.warnings
    assert f"webhook_url {shown} is a placeholder" in warning
    assert "secretpart" not in warning
    assert set(config.placeholders) == {"Slack Audit"}


def test_a_real_webhook_url_is_no_placeholder() -> None:
    config = loader.loads(BLOG_CONFIG.replace("___YOUR_SLACK_WEBHOOK___",
                                              "https://hooks.slack.com/services/T0AB/B0CD/yourteamtoken"),
                          sending=True)
    assert config.warnings == () and config.placeholders == {}


def test_run_send_counts_deliveries(tmp_path: Path, slack: FakeSlack) -> None:
    path = write(tmp_path / "t.toml", BLOG_CONFIG.replace("___YOUR_SLACK_WEBHOOK___", slack.url()))
    code, out, err = cli_run("run", "--send", "--config", path, EXAMPLE)
    assert code == 0, err
    assert "1 alerts delivered" in err and len(slack.posts) == 1


# --- check: everything at once, in TOML's words -------------------------------------------------------

def test_check_compiles_regex_literals_with_jqs_message(tmp_path: Path) -> None:
    path = write(tmp_path / "t.toml", """
[[rule]]
name = "Bad regex"
jq_match = 'select(.eventName | test("Create(User"))'
[[rule]]
name = "Bad sub"
jq_match = '.userAgent | sub("[a-"; "x")'
[[rule]]
name = "Plain split"
jq_match = 'select(.eventName | split("(") | length > 1)'
""")
    code, out, err = cli_run("check", path)
    assert code == 1 and out == ""
    assert (f"{path}: rule 'Bad regex': invalid jq_match: regex 'Create(User': "
            "Regex failure: end pattern with unmatched parenthesis") in err
    assert f"{path}: rule 'Bad sub': invalid jq_match: regex '[a-': Regex failure: premature end of char-class" in err
    assert "'Plain split': invalid" not in err  # split/1 takes a plain string, not a regex
    assert "2 problem(s) found" in err


def test_check_warns_about_rules_that_cannot_mean_what_they_say(tmp_path: Path) -> None:
    path = write(tmp_path / "t.toml", """
[[rule]]
name = "Records"
jq_match = '.Records[] | select(.eventName == "CreateUser")'
destinations = ["SNS"]
[[rule]]
name = "Everything"
jq_match = "true"
destinations = ["SNS"]
[[rule]]
name = "Identity"
jq_match = " . "
destinations = ["SNS"]
[[rule]]
name = "Nowhere"
jq_match = 'select(.eventName == "CreateUser")'

[[destination]]
id = "SNS"
type = "sns"
sns_arn = "arn:aws:sns:us-east-1:123456789012:alerts"
""")
    code, out, err = cli_run("check", path)
    assert code == 0 and "4 warning(s)" in out
    warnings = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 4
    assert f"warning: {path}: rule 'Records': jq_match reads .Records, but a rule sees one record" in err
    assert f"warning: {path}: rule 'Everything': jq_match 'true' matches every record" in err
    assert f"warning: {path}: rule 'Identity': jq_match '.' matches every record" in err
    assert f"warning: {path}: rule 'Nowhere': no destinations" in err


def test_check_warns_about_an_empty_config(tmp_path: Path) -> None:
    code, out, err = cli_run("check", write(tmp_path / "empty.toml", "# nothing yet\n"))
    assert code == 0 and "0 rules" in out
    assert "no rules: nothing will ever match" in err


def test_problems_behind_a_type_error_are_reported_too(tmp_path: Path) -> None:
    path = write(tmp_path / "t.toml", """
[[rule]]
name = "R"
jq_match = "select("
destinations = "SNS"
severity = 3
title = ["x"]
[[rule.test]]
match = "yes"

[[destination]]
id = "Slack"
type = "slack_webhook"
webhook_url = "https://hooks.slack.com/services/T/B/X"
timeout = "10"
language = "fr"
""")
    code, _, err = cli_run("check", path)
    assert code == 1
    assert f"{path}: rule 'R': 'destinations' must be an array, not string" in err
    assert f"{path}: rule 'R': 'severity' must be a string, not integer" in err
    assert f"{path}: rule 'R': 'title' must be a string, not array" in err
    assert f"{path}: rule 'R': invalid jq_match: jq: error: syntax error" in err  # behind the type errors
    assert f"{path}: rule 'R': test[1]: 'match' must be a boolean, not string" in err
    assert f"{path}: destination[1] 'Slack': 'timeout' must be a float, not string" in err
    assert f"{path}: destination[1] 'Slack': unknown language 'fr'" in err  # behind the type error
    assert not re.search(r"\bnot (str|int|list|dict)\b", err)


def test_a_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "notepad.toml"
    path.write_bytes(b"\xef\xbb\xbf" + BLOG_CONFIG.encode())
    assert loader.load(path).rules[0].name == "Create User"
    assert loader.loads("\ufeff" + BLOG_CONFIG).rules[0].name == "Create User"


def test_a_missing_include_names_the_config_the_include_and_the_packs(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    write(tmp_path / "rules" / "iam.toml", '[[rule]]\nname = "A"\njq_match = "."\n')
    path = write(tmp_path / "t.toml", '[[include]]\npath = "rules/iam.tom"\n')
    code, _, err = cli_run("check", path)
    assert code == 1
    assert (f"{path}: [[include]] 1 path = 'rules/iam.tom': no such pack ({tmp_path / 'rules' / 'iam.tom'}); "
            f"packs in {tmp_path / 'rules'}: iam.toml") in err


# --- every command like a Unix tool ---------------------------------------------------------------------

def test_version_and_help_document_the_exit_codes() -> None:
    done = command("--version")
    assert done.returncode == 0 and done.stdout.strip() == f"tattletail {__version__}"
    done = command("--help")
    assert done.returncode == 0
    assert "The same engine runs in the Lambda and here" in done.stdout  # the whole description
    assert "exit status:\n  0  success" in done.stdout and "  2  usage" in done.stdout
    for verb in (["run"], ["replay"], ["report", "sessions"]):
        sub = command(*verb, "--help")
        assert sub.returncode == 0 and "exit status:" in sub.stdout, verb


def test_usage_errors_exit_2() -> None:
    assert command("frobnicate").returncode == 2
    assert command("run").returncode == 2  # no log file
    done = command("replay", "--since", "yesterday", EXAMPLE)
    assert done.returncode == 2 and "'yesterday' is not a day: YYYY-MM-DD" in done.stderr


def test_run_takes_a_directory_and_a_single_record(tmp_path: Path) -> None:
    logs = tmp_path / "logs" / "2026" / "11"
    logs.mkdir(parents=True)
    (logs / "a.json.gz").write_bytes(log_bytes([{"eventName": "CreateUser", "eventTime": "2026-11-20T10:00:00Z",
                                                 "responseElements": {"user": {"userName": "eve"}}}]))
    code, out, err = cli_run("run", "--config", CONFIG, str(tmp_path / "logs"))
    assert code == 0, err
    assert "[Create User] 2026-11-20T10:00:00Z CreateUser: username: eve" in out
    single = write(tmp_path / "one.json", json.dumps({"eventName": "CreateUser", "eventTime": "2026-11-21T00:00:00Z",
                                                      "responseElements": {"user": {"userName": "mo"}}}))
    code, out, err = cli_run("run", "--config", CONFIG, single)
    assert code == 0 and "username: mo" in out and "1 files, 1 records, 1 matches" in err
    code, out, _ = cli_run("check", str(ROOT))  # a directory holding tattletail.toml, as `run --config DIR`
    assert code == 0 and out.startswith(f"{ROOT / 'tattletail.toml'}: OK, 12 rules")


def test_run_is_quiet_on_a_closed_pipe(tmp_path: Path) -> None:
    code = "import sys; from tattletail.commands import main; sys.exit(main())"
    argv = [sys.executable, "-c", code, "run", "--config", CONFIG, *[EXAMPLE] * 300]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.readline()
        proc.stdout.close()  # `| head -1`
        err = proc.stderr.read().decode()
        status = proc.wait(timeout=120)
    assert status == 1
    assert "Broken pipe" not in err and "Traceback" not in err and "Errno" not in err


def test_test_on_an_empty_directory_says_why_it_fails(tmp_path: Path) -> None:
    code, out, err = cli_run("test", str(tmp_path))
    assert code == 1 and f"no rules found in {tmp_path}" in err


def test_render_names_the_destinations_there_are() -> None:
    code, _, err = cli_run("render", "--config", CONFIG, "--destination", "Nope", EXAMPLE)
    assert code == 2  # a bad argument
    assert "no destination 'Nope' (destinations: 'Slack Audit', 'Security SNS', 'Security Email')" in err


def test_readme_render_examples_show_what_they_say() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    assert ('`tattletail render --rule "Create User" examples/cloudtrail-example.json` shows the SNS message '
            'and the email') in " ".join(readme.split())
    code, out, _ = cli_run("render", "--config", CONFIG, "--rule", "Create User", EXAMPLE)
    shown = re.findall(r"-> destination '([^']+)' \((\w+)", out)
    assert code == 0 and shown == [("Security SNS", "sns"), ("Security Email", "ses")]
    code, out, _ = cli_run("render", "--config", CONFIG, "--rule", "SSM Start Session", EXAMPLE)
    assert code == 0 and set(re.findall(r"\((\w+), ", out)) == {"slack_webhook"}


def test_cis_descriptions_keep_their_capitals() -> None:
    rules = loader.load_pack(ROOT / "rules" / "cis-aws-foundations.toml")
    descriptions = " ".join(rule.description for rule in rules)
    for wrong in ("iAM", "aWS", "vPC", "cloudTrail", "s3 bucket"):
        assert wrong not in descriptions
    for right in ("for IAM policy changes", "for AWS Config", "for VPC changes", "for CloudTrail", "for S3 bucket"):
        assert right in descriptions
    for pack in sorted((ROOT / "rules").glob("*.toml")):
        for rule in loader.load_pack(pack):
            assert not re.search(r"\b[a-z][A-Z]{2}", rule.description), (pack.name, rule.name)


# --- history: json output, eventTime windows, failed session calls ------------------------------------------

def _history(tmp_path: Path) -> Path:
    """A local folder (no date layout) holding records of three days."""
    folder = tmp_path / "history"
    folder.mkdir()
    records = [{"eventName": "CreateUser", "eventTime": f"2026-11-{day}T12:00:00Z", "eventID": f"e-{day}",
                "responseElements": {"user": {"userName": f"u{day}"}}} for day in ("01", "02", "03")]
    (folder / "mixed.json.gz").write_bytes(log_bytes(records))
    return folder


def test_replay_since_until_filter_local_files_by_event_time(tmp_path: Path) -> None:
    folder = str(_history(tmp_path))
    code, out, err = cli_run("replay", "--config", CONFIG, "--workers", "1", "--format", "jsonl",
                             "--since", "2026-11-02", "--until", "2026-11-02", folder)
    assert code == 0, err
    assert [json.loads(line)["eventID"] for line in out.splitlines()] == ["e-02"]
    code, out, _ = cli_run("replay", "--config", CONFIG, "--workers", "1", "--format", "jsonl",
                           "--since", "2026-11-02", folder)
    assert [json.loads(line)["eventID"] for line in out.splitlines()] == ["e-02", "e-03"]


def test_replay_format_json(tmp_path: Path) -> None:
    code, out, err = cli_run("replay", "--config", CONFIG, "--workers", "1", "--format", "json",
                             str(_history(tmp_path)))
    assert code == 0, err
    summary = json.loads(out)
    by_rule = {row["rule"]: row for row in summary["rules"]}
    assert by_rule["Create User"]["matches"] == 3 and by_rule["Create Access Key"]["matches"] == 0
    assert {"value": "username: u01", "count": 1} in by_rule["Create User"]["annotations"]
    assert (summary["files"], summary["records"], summary["matches"]) == (1, 3, 3)
    assert summary["rule_errors"] == [] and summary["unreadable"] == []


def test_report_sessions_counts_failed_calls_as_failures(tmp_path: Path) -> None:
    who = {"type": "IAMUser", "userName": "eve", "arn": "arn:aws:iam::111122223333:user/eve"}
    base = {"eventSource": "ssm.amazonaws.com", "eventName": "StartSession", "userIdentity": who,
            "requestParameters": {"target": "i-1"}, "awsRegion": "us-east-1"}
    records = [
        {**base, "eventTime": "2026-11-01T09:00:00Z", "responseElements": {"sessionId": "eve-1"}},
        {**base, "eventTime": "2026-11-01T09:05:00Z", "errorCode": "AccessDenied", "responseElements": None},
        {**base, "eventTime": "2026-11-01T09:06:00Z", "errorCode": "AccessDenied", "responseElements": None},
    ]
    folder = tmp_path / "ssm"
    folder.mkdir()
    (folder / "a.json.gz").write_bytes(log_bytes(records))
    code, out, _ = cli_run("report", "sessions", "--workers", "1", str(folder))
    assert code == 0
    assert "3 events, 1 sessions started, 2 failed calls" in out
    assert out.splitlines()[0].split() == ["time", "event", "target", "who", "source_ip", "session_id", "error"]
    assert sum("AccessDenied" in line for line in out.splitlines()) == 2
    code, out, _ = cli_run("report", "sessions", "--workers", "1", "--format", "json", str(folder))
    report = json.loads(out)
    assert report["failed_calls"] == 2 and report["per_day"] == [{"day": "2026-11-01", "sessions": 1}]


# --- redrive: clean errors ----------------------------------------------------------------------------------

def test_redrive_refuses_what_is_not_a_store() -> None:
    code, _, err = cli_run("redrive", "--config", CONFIG, "./dead-letters")
    assert code == 2 and "is not a dead-letter store" in err and "s3://bucket/prefix" in err


def sendable_config(tmp_path: Path) -> str:
    """The bundled config with a real-shaped webhook URL: its demo URL is a placeholder, refused where
    sending is asked (``redrive``)."""
    text = Path(CONFIG).read_text()
    demo = "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"
    assert demo in text
    text = text.replace(demo, "https://hooks.slack.com/services/T0AB/B0CD/tok3n")
    return write(tmp_path / "sendable.toml", text.replace('path = "rules/', f'path = "{ROOT / "rules"}/'))


def test_redrive_without_credentials_says_so(tmp_path: Path) -> None:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "AWS_CONFIG_FILE": os.devnull,
           "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_EC2_METADATA_DISABLED": "true",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
    for store in ("https://sqs.us-east-1.amazonaws.com/123456789012/dlq", "s3://bucket/dead"):
        done = command("redrive", "--config", sendable_config(tmp_path), store, env=env)
        assert done.returncode == 1, done.stderr
        assert "Traceback" not in done.stderr and "Unable to locate credentials" not in done.stderr
        assert "no AWS credentials found (set AWS_PROFILE, or AWS_ACCESS_KEY_ID" in done.stderr


def test_redrive_of_a_missing_queue_is_a_clean_error(aws: None, tmp_path: Path) -> None:
    import boto3

    url = boto3.client("sqs").create_queue(QueueName="gone")["QueueUrl"]
    boto3.client("sqs").delete_queue(QueueUrl=url)
    code, _, err = cli_run("redrive", "--config", sendable_config(tmp_path), url)
    assert code == 1 and err.startswith("error: ") and "Traceback" not in err
    assert "NonExistentQueue" in err or "does not exist" in err


def test_a_command_needing_boto3_says_which_extra_installs_it(tmp_path: Path) -> None:
    """`make demo` installs what running needs; AWS commands name the extra instead of a traceback."""
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "boto3.py").write_text("raise ModuleNotFoundError('No module named boto3', name='boto3')\n")
    env = {**os.environ, "PYTHONPATH": str(hide)}
    done = command("replay", "--config", CONFIG, "s3://bucket/AWSLogs/", env=env)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "pip install 'tattletail[aws]'" in done.stderr
