"""Escaping policies found wanting by an outside attack: emoji shortcodes live in Slack's header,
noncharacters kept in dead letters (SQS refuses U+FFFE and U+FFFF), and control characters from a
record printed raw by the CLI (a jq error quoting a value)."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tattletail import commands as cli
from tattletail.alerts import escape as esc
from tattletail.alerts.alert import View
from tattletail.delivery.deadletter import S3DeadLetters, SqsDeadLetters
from tattletail.destinations import Ses, Sns, slack
from tests.destinations.test_injection import alert_of, digest_of

SHORTCODE = re.compile(r":[\w+'-]+:")  # the characters of Slack's emoji names
NONCHARACTERS = ["\ufdd0", "\ufdef", "\ufffe", "\uffff"]


def sqs_allows(text: str) -> bool:
    """SQS's documented message characters: #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF."""
    return all(ch in "\t\n\r" or " " <= ch <= "\ud7ff" or "\ue000" <= ch <= "\ufffd" or ch >= "\U00010000"
               for ch in text)


# --- Slack: emoji ------------------------------------------------------------------------------

@pytest.mark.parametrize("hostile", [":rotating_light: URGENT", "a:red_circle:b", ":skull::skin-tone-2:",
                                     ":large_blue_circle: all clear :white_check_mark:"])
def test_emoji_shortcodes_from_a_record_are_not_live_in_the_header_or_notification(hostile: str) -> None:
    for payload in (slack.render(alert_of(hostile), View()), slack.render_digest(digest_of(hostile), View())):
        marker, _, title = payload["blocks"][0]["text"]["text"].partition(" ")
        assert marker in slack.MARKERS.values()
        assert payload["blocks"][0]["text"]["emoji"] is False  # Slack shows the title's shortcodes as text
        marker, _, notification = payload["text"].partition(" ")
        assert marker in slack.MARKERS.values() and not SHORTCODE.search(notification), notification
    header = slack.render(alert_of(hostile), View())["blocks"][0]["text"]["text"]
    assert hostile in header, header  # shown as written: neither live nor rewritten


def test_a_neutralised_shortcode_still_reads_the_same() -> None:
    assert esc.no_emoji(":rotating_light: at 10:00:00") == "\u2236rotating_light: at 10\u223600:00"
    assert esc.no_emoji("arn:aws:iam::123456789012:user/alice").replace("\u2236", ":") == \
        "arn:aws:iam::123456789012:user/alice"
    assert esc.no_emoji("no shortcode: here") == "no shortcode: here"


# --- dead letters: noncharacters ---------------------------------------------------------------

class _Capture:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def send_message(self, QueueUrl: str, MessageBody: str) -> None:  # noqa: N803 - boto3's names
        self.sent.append(MessageBody)

    def put_object(self, Bucket: str, Key: str, Body: bytes, ContentType: str) -> None:  # noqa: N803
        self.sent.append(Body.decode("utf-8"))


def test_noncharacters_in_a_dead_letter_are_escaped_and_come_back_the_same() -> None:
    value = "a" + "b".join(NONCHARACTERS) + "\U0010ffff\ud800 end"  # SQS takes the astral ones
    letter: dict[str, Any] = {"rule": value, "records": [{"userAgent": value, value: [value]}],
                              "rendered": {"text": value}}
    client = _Capture()
    SqsDeadLetters("https://sqs.us-east-1.amazonaws.com/1/q", client=client).put(letter)
    S3DeadLetters("s3://letters/dead", client=client).put(letter)
    for body in client.sent:
        assert sqs_allows(body), [hex(ord(ch)) for ch in body if not sqs_allows(ch)]
        assert json.loads(body) == letter  # escaped, not replaced: redrive sends what was rendered


@pytest.mark.parametrize("ch", NONCHARACTERS)
def test_noncharacters_are_made_visible_in_every_one_line_context(ch: str) -> None:
    assert ch not in esc.visible(f"x{ch}y") and ch not in esc.one_line(f"x{ch}y")
    assert ch not in esc.slack_plain(f"x{ch}y", 150) and ch not in esc.sns_subject(f"x{ch}y")
    assert ch not in esc.json_text({"k": f"x{ch}y"}) and json.loads(esc.json_text(f"x{ch}y")) == f"x{ch}y"


# --- the CLI: control characters from a record ------------------------------------------------

HOSTILE_AGENT = "evil\x1b]0;pwned\x07\x1b[2J\x1b[31mred\u202eoops\r\x08\x9b"
CONFIG = """
[[rule]]
name = "Number"
jq_match = 'select(.userAgent | tonumber > 1)'

[[rule]]
name = "Agent"
jq_match = 'select(.eventName == "X") | .userAgent'
"""


def test_cli_output_shows_control_characters_of_a_record_escaped(tmp_path: Path) -> None:
    (tmp_path / "tattletail.toml").write_text(CONFIG)
    records = [{"eventVersion": "1.10", "eventName": "X", "eventID": "e-1", "userAgent": HOSTILE_AGENT}]
    (tmp_path / "log.json").write_text(json.dumps({"Records": records}))
    for argv in (["run"], ["run", "--format", "jsonl"], ["render"]):
        out, err = io.StringIO(), io.StringIO()
        target = "log.json" if argv[0] == "run" else "record.json"
        if argv[0] == "render":
            (tmp_path / target).write_text(json.dumps(records[0]))
        cli.main([*argv, "--config", str(tmp_path / "tattletail.toml"), str(tmp_path / target)], out, err)
        for text in (out.getvalue(), err.getvalue()):
            raw = [hex(ord(ch)) for ch in text if ch not in "\n\t" and esc._INVISIBLE.match(ch)]
            assert raw == [], (argv, text)
        if argv[0] == "run":
            assert "cannot be parsed as a number" in err.getvalue()  # the jq error is shown, escaped
            assert "\\u001b]0;pwned" in err.getvalue()
        if argv[1:] == ["--format", "jsonl"]:
            rows = [json.loads(line) for line in out.getvalue().splitlines()]
            assert rows and rows[0]["match"] == HOSTILE_AGENT  # JSON output stays JSON meaning the same


def test_a_progress_line_keeps_its_leading_carriage_return() -> None:
    raw = io.StringIO()
    stream = esc.Terminal(raw)
    stream.write("\r[####] files 1/2")
    stream.write("a\rb\x1bc")
    assert raw.getvalue() == "\r[####] files 1/2a\\u000db\\u001bc"


# --- mail subjects: RFC 2047 encoded words -----------------------------------------------------

@pytest.mark.parametrize("hostile", ["=?utf-8?b?4oCuZ25wLmV4ZQ==?=", "=?UTF-8?Q?=E2=80=AE_=0D=0ABcc:_x?=",
                                     "ok =?iso-8859-1?q?=1b[31m?= =?utf-8?B?QWRtaW4gTUZBIG9r?="])
def test_subjects_hold_no_encoded_word_a_mail_client_would_decode(hostile: str) -> None:
    from email.header import decode_header

    alert, digest = alert_of(hostile), digest_of(hostile)
    subjects = [Ses("e", ["soc@example.com"], "alerts@example.com").render(alert)["Message"]["Subject"]["Data"],
                Ses("e", ["soc@example.com"], "alerts@example.com").render_digest(digest)["Message"]["Subject"]["Data"],
                Sns("s", "arn:aws:sns:us-east-1:123456789012:t", "text").render(alert)["Subject"],
                Sns("s", "arn:aws:sns:us-east-1:123456789012:t").render_digest(digest)["Subject"]]
    for subject in subjects:
        assert "=?" not in subject, subject
        assert all(charset is None for _, charset in decode_header(subject)), subject  # nothing decoded


# --- stacked diacritics ------------------------------------------------------------------------

def test_diacritics_stacked_beyond_two_are_shown_as_escapes_and_real_words_are_kept() -> None:
    zalgo = "Z" + "\u0336\u0335\u0334" * 30 + "algo"
    for shown in (esc.visible(zalgo), esc.one_line(zalgo), esc.json_text(zalgo), esc.terminal(zalgo),
                  esc.slack_plain(zalgo, 150), esc.slack_code(zalgo, 2000), esc.html_text(zalgo)):
        assert not re.search("[\u0300-\u036f]{3}", shown), shown
    assert json.loads(esc.json_text(zalgo)) == zalgo  # escaped, not dropped
    for word in ("Nguye\u0302\u0303n", "Tiê\u0301ng Việt", "cafe\u0301", "\u0915\u094d\u0937"):
        assert esc.visible(word) == word and esc.json_text(word) == f'"{word}"'
