"""Hostile text in every record field an alert shows, and in rule titles, fields and annotations: no
destination's payload may carry live markup, links, mentions, forged lines or invisible characters,
and every payload stays within its service's limits (Slack Block Kit, SNS, SES)."""

from __future__ import annotations

import dataclasses
import io
import json
import re
import sys
import unicodedata
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tattletail import commands as cli
from tattletail.alerts import escape as esc
from tattletail.alerts.alert import Alert, Digest, View
from tattletail.destinations import Ses, SlackWebhook, Sns, slack
from tattletail.rules import Match, Rule

HOSTILE = {
    "mention": "<!channel> <!here> <@U024BE7LH> <!subteam^S0123|team> @channel @here @everyone",
    "link": "<https://evil.example/login|Click to re-authenticate> https://evil.example/x <mailto:a@b.c>",
    "mrkdwn": "*bold* _italic_ ~strike~ `code` > quote :skull: &gt; quote",
    "fence": "```\n*Who*\nroot (MFA ok)\n```<!channel>```",
    "newlines": "ok\n*Who*\nroot (MFA ok)\r\nRule: Benign\rSeverity: Info\u2028Event: none\u2029\x0b\x0c\x85",
    "control": "nul\x00bel\x07esc\x1b[31mred\x1b[0m del\x7f c1\x9b tab\tend",
    "bidi": "user\u202egnp.exe\u202c \u2066isolate\u2069 \u200e\u200f \u061c",
    "zero_width": "ad\u200bmin\u200c\u200d\ufeff\u2060\u00ad \u180e\U000e0041",
    "html": "<script>alert(1)</script><img src=x onerror=alert(1)> &amp; \"quoted\" 'single' </td></table>",
    "long": "A" * 120_000 + "`" * 7 + "<!channel>",
    "surrogate": "bad\ud800surrogate\udfff end",
    "entities": "&lt;!channel&gt; &amp;lt; &#60;!here&#62;",
    "non_ascii": "Ünïcødé 日本語 Ａｄｍｉｎ 👨\u200d👩\u200d👧",
    "emoji": ":rotating_light: :red_circle: URGENT :skull::skin-tone-2: at 10:00:00",
    "noncharacter": "a\ufffeb\uffffc\ufdd0d end",
    "encoded_word": "=?utf-8?b?4oCuZ25wLmV4ZQ==?= =?UTF-8?Q?=0D=0AWho:_root?=",
    "zalgo": "Z" + "\u0336\u0335\u0334\u20d2" * 40 + "algo Nguye\u0302\u0303n",
}
MARKERS = {*slack.MARKERS.values(), slack.NO_SEVERITY}
SHORTCODE = re.compile(r":[\w+'-]+:")  # an emoji shortcode (the characters of Slack's emoji names)


class _Invisible:
    """Finds a character a reader cannot see (line breaks and tabs of multi-line text aside)."""

    @staticmethod
    def search(text: str) -> str | None:
        found = next((m.group() for m in esc._INVISIBLE.finditer(text) if m.group() not in "\n\t"), None)
        stacked = esc._STACKED.search(text)
        return found or (stacked.group() if stacked else None)


INVISIBLE = _Invisible()
SECRET_URL = "https://hooks.slack.com/services/T0ABCDEFG/B0ABCDEFG/abcdefghijklmnopqrstuvwx"
RULE = Rule.compiled(
    "Hostile", 'select(.eventName != null) | "ua: \\(.userAgent)"', severity="high",
    description="Watched <closely> & reviewed",
    title='"\\(.eventName) by \\(.userIdentity.sessionContext.sessionIssuer.userName)"',
    fields=[("Agent", ".userAgent"), ("Params", ".requestParameters"), ("Error", ".errorMessage")],
    runbook="https://wiki.example.com/runbooks/hostile")


def hostile_record(h: str) -> dict[str, Any]:
    """Every field an alert shows (facts, identity, target, error, the record itself) holds ``h``."""
    return {
        "eventVersion": "1.10", "eventTime": "2026-11-20T23:30:05Z", "eventName": h, "eventSource": h,
        "awsRegion": h, "sourceIPAddress": h, "userAgent": h, "errorCode": h, "errorMessage": h,
        "eventID": h, "eventType": h, "recipientAccountId": h, "requestID": h,
        "userIdentity": {"type": "AssumedRole", "arn": f"arn:aws:sts::123456789012:assumed-role/{h}/{h}",
                         "accountId": h, "principalId": h,
                         "sessionContext": {"sessionIssuer": {"userName": h}}},
        "requestParameters": {"userName": h, h[:50]: h}, "resources": [{"ARN": h}],
        "additionalEventData": {"note": h},
    }


def alert_of(h: str) -> Alert:
    record = hostile_record(h)
    match = Match.from_output(RULE, record, f"ua: {h}")
    assert match is not None
    errors: list[str] = []
    alert = Alert.of(match, on_error=lambda rule, what, message: errors.append(what))
    if "\ud800" not in h:  # jq itself refuses lone surrogates: then the rule name stands in as title
        assert not errors and h[:20] in alert.title
    return alert


def digest_of(h: str) -> Digest:
    alert = alert_of(h)
    return Digest(RULE, f"AWSLogs/{h}.json.gz", 40, (alert,) * 5, ((h, 30), ("bob", 10)), ((h, 40),))


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in strings(k) + strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


# --- Slack -------------------------------------------------------------------------------------

CODE_SPAN = re.compile(r"`[^`\n]*`")
FIELD = re.compile(r"^\*[^*`\n<>]+\*\n`[^`\n]*`$")
BLOCK = re.compile(r"^\*[^*`\n<>]+\*\n```[^`]*```$")
LINK = re.compile(r"<(https://[^|<>\s]+)\|[^<>|]+>")


def assert_no_live_mrkdwn(text: str, links: set[str]) -> None:
    """Outside code, only our own bold labels and links: no event text that Slack would format."""
    outside = CODE_SPAN.sub("", text)
    for url in LINK.findall(outside):
        assert url in links
    outside = LINK.sub("", outside)
    assert "<" not in outside and ">" not in outside, outside[:300]
    assert "`" not in outside
    assert not re.search(r"[_~]", re.sub(r"\*[^*\n]+\*", "", outside)), outside[:300]


def check_slack(payload: dict[str, Any], alert: Alert | None, links: set[str] | None = None) -> None:
    """``links``: the only URLs the message may link to (the rule's runbook, the console's)."""
    from slack_sdk.models.blocks import Block, ContextBlock, HeaderBlock, SectionBlock

    links = links or {"https://wiki.example.com/runbooks/hostile"}
    assert payload["mrkdwn"] is False and "\n" not in payload["text"] and len(payload["text"]) <= 3000
    assert "<" not in payload["text"] and ">" not in payload["text"]
    blocks = payload["blocks"]
    assert len(blocks) <= 50
    for s in strings(payload):
        assert not INVISIBLE.search(s), repr(INVISIBLE.search(s))
        s.encode("utf-8")  # no lone surrogate: what requests sends must encode
    header = blocks[0]
    assert header["type"] == "header" and header["text"]["type"] == "plain_text"
    title = header["text"]["text"]
    assert len(title) <= 150 and "\n" not in title and "<" not in title and ">" not in title
    assert not re.search(r"@(channel|here|everyone)", title, re.IGNORECASE)
    # our severity marker is the only emoji: the header shows shortcodes as text (emoji false), the
    # notification text has none left
    assert header["text"]["emoji"] is False
    for line in (title, payload["text"]):
        marker, _, rest = line.partition(" ")
        assert marker in MARKERS, line[:200]
    assert not SHORTCODE.search(payload["text"].partition(" ")[2]), payload["text"][:200]
    for block in blocks:
        model = Block.parse(block)
        assert isinstance(model, HeaderBlock | SectionBlock | ContextBlock), block["type"]
        model.validate_json()  # Slack's own SDK: header <= 150, section text <= 3000, <= 10 fields
        if block["type"] == "section" and "fields" in block:
            assert len(block["fields"]) <= 10
            for field in block["fields"]:
                assert field["type"] == "mrkdwn" and len(field["text"]) <= 2000
                assert FIELD.match(field["text"]), field["text"][:200]
        elif block["type"] == "section":
            text = block["text"]["text"]
            assert len(text) <= 3000
            if "```" in text:
                assert BLOCK.match(text), text[:200]  # one block, opened and closed by us only
            else:
                assert_no_live_mrkdwn(text, links)
        elif block["type"] == "context":
            for element in block["elements"]:
                assert len(element["text"]) <= 3000
                assert_no_live_mrkdwn(element["text"], links)


@pytest.mark.parametrize("name", sorted(HOSTILE))
@pytest.mark.parametrize("view", [View(), View("Asia/Tokyo", "ja")], ids=["en", "ja"])
def test_slack_alert_and_digest_carry_no_live_markup_and_stay_valid_block_kit(name: str, view: View) -> None:
    slack = SlackWebhook("s", SECRET_URL, view=view)
    alert = alert_of(HOSTILE[name])
    check_slack(slack.render(alert), alert)
    check_slack(slack.render_digest(digest_of(HOSTILE[name])), None)


def test_a_value_cannot_forge_a_line_or_close_the_record_block() -> None:
    payload = SlackWebhook("s", SECRET_URL).render(alert_of(HOSTILE["fence"]))
    fields = [f["text"] for b in payload["blocks"] if "fields" in b for f in b["fields"]]
    user = next(f for f in fields if f.startswith("*User*\n"))
    assert user.count("\n") == 1 and user.count("`") == 2 and "ˋˋˋ *Who* root (MFA ok) ˋˋˋ" in user
    record = payload["blocks"][-1]["text"]["text"]
    assert record.count("```") == 2 and record.endswith("}```")


def test_invisible_characters_are_shown_not_dropped() -> None:
    payload = SlackWebhook("s", SECRET_URL).render(alert_of(HOSTILE["bidi"]))
    text = json.dumps(payload, ensure_ascii=False)
    assert "user\\\\u202egnp.exe\\\\u202c" in text  # the JSON of the payload escapes the backslash


# --- SNS ---------------------------------------------------------------------------------------

def check_subject(subject: str) -> None:
    assert 0 < len(subject) < 100
    assert all(" " <= ch <= "~" for ch in subject), subject
    assert subject[0] != " "
    assert "=?" not in subject  # no RFC 2047 encoded word for a mail client to decode


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_sns_subjects_follow_sns_rules_and_messages_fit(name: str) -> None:
    h = HOSTILE[name]
    alert, digest = alert_of(h), digest_of(h)
    for fmt in ("json", "text"):
        for view in (View(), View("Asia/Tokyo", "ja")):
            sns = Sns("t", "arn:aws:sns:us-east-1:123456789012:t", format=fmt, view=view,
                      subject="{severity} {title} by {who}: {event} in {account}/{region}")
            for rendered in (sns.render(alert), sns.render_digest(digest)):
                check_subject(rendered["Subject"])
                assert len(rendered["Message"].encode("utf-8")) <= 256 * 1024
                if fmt == "json":
                    json.loads(rendered["Message"])
                else:
                    assert not INVISIBLE.search(rendered["Message"])
    body = json.loads(Sns("t", "arn:aws:sns:us-east-1:123456789012:t").render(alert)["Message"])
    if name != "long":  # the machine payload keeps the record exactly, whatever it holds
        assert body["record"] == alert.record


def head_lines(text: str) -> list[str]:
    """The lines of a plain-text alert before the record (the part a value could forge lines in)."""
    return text.split("\n\nCloudTrail record:")[0].split("\n\nCloudTrailレコード:")[0].split("\n")


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_plain_text_alerts_keep_their_shape(name: str) -> None:
    view = View()
    benign, hostile = alert_of("benign"), alert_of(HOSTILE[name])
    if not hostile.fields:  # jq refused the value (a lone surrogate): no title or fields, as in the benign twin
        benign = dataclasses.replace(benign, fields=(), title=RULE.name)
    expected = head_lines(view.plain_text(benign))
    got = head_lines(view.plain_text(hostile))
    assert len(got) == len(expected)  # no value added a line
    for mine, theirs in zip(got[1:], expected[1:], strict=True):  # every label where it belongs
        label = theirs.split(": ", 1)[0] + ": " if ": " in theirs.split("  ")[0] else theirs.split("  ")[0] + "  "
        assert mine.startswith(label.strip() and label) or not theirs
    assert len(view.digest_text(digest_of(HOSTILE[name])).split("\n")) == len(
        view.digest_text(digest_of("benign")).split("\n"))


def test_sns_subject_is_cut_within_the_limit_in_ascii() -> None:
    subject = esc.sns_subject("é" * 50 + "日本" * 50)
    assert len(subject) == 99 and subject.endswith("...") and subject.startswith("e" * 50)
    assert esc.sns_subject("\u200b\n\t ") == "\\u200b"
    assert esc.sns_subject("   ") == "tattletail alert"


@settings(derandomize=True, max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=300))
def test_any_text_gives_a_valid_sns_subject_and_a_closed_slack_code_span(text: str) -> None:
    check_subject(esc.sns_subject(text))
    code = esc.slack_code(text, 500)
    assert len(code) <= 500 and code[0] == code[-1] == "`" and code.count("`") == 2
    assert "<" not in code and ">" not in code and "\n" not in code and not INVISIBLE.search(code)
    plain = esc.slack_plain(text, 150)
    assert len(plain) <= 150 and "<" not in plain and "\n" not in plain
    block = esc.slack_block("Record", text, 3000, "shortened")
    assert len(block) <= 3000 and block.count("```") == 2 and block.endswith("```")
    assert json.loads(esc.json_text(text)) == text
    esc.json_text(text).encode("utf-8")


def test_every_control_format_and_separator_character_is_made_visible() -> None:
    missed = [hex(code) for code in range(sys.maxunicode + 1)
              if unicodedata.category(chr(code)) in ("Cc", "Cf", "Cs", "Zl", "Zp")
              and esc.visible(chr(code), keep_lines=False) == chr(code)]
    assert missed == []


# --- SES ---------------------------------------------------------------------------------------

class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_ses_html_has_only_our_markup_and_subjects_one_line(name: str) -> None:
    h = HOSTILE[name]
    ses = Ses("e", ["soc@example.com"], "alerts@example.com")
    for rendered in (ses.render(alert_of(h)), ses.render_digest(digest_of(h))):
        message = rendered["Message"]
        subject = message["Subject"]["Data"]
        assert len(subject) <= 200 and not INVISIBLE.search(subject) and "\n" not in subject and "=?" not in subject
        html = message["Body"]["Html"]["Data"]
        parser = _Tags()
        parser.feed(html)
        assert {tag for tag, _ in parser.tags} <= {"h2", "table", "tr", "th", "td", "p", "a", "h3", "pre"}
        hrefs = {value for _, attrs in parser.tags for key, value in attrs if key == "href"}
        assert hrefs <= {"https://wiki.example.com/runbooks/hostile"}
        assert {key for _, attrs in parser.tags for key, _ in attrs} <= {"href", "align"}
        for part in (html, message["Body"]["Text"]["Data"]):
            assert not INVISIBLE.search(part)
            assert len(part.encode("utf-8")) < 10 * 1024 * 1024


# --- the command line --------------------------------------------------------------------------

CONFIG = f'''
[[rule]]
name = "Hostile"
jq_match = 'select(.eventName != null) | "ua: \\(.userAgent)"'
severity = "high"
title = '"\\(.eventName) by \\(.userIdentity.sessionContext.sessionIssuer.userName)"'
fields = {{ "Agent" = ".userAgent", "Error" = ".errorMessage" }}
destinations = ["Slack", "SNS", "Email"]

[[destination]]
id = "Slack"
type = "slack_webhook"
webhook_url = "{SECRET_URL}"

[[destination]]
id = "SNS"
type = "sns"
sns_arn = "arn:aws:sns:us-east-1:123456789012:alerts"
format = "text"

[[destination]]
id = "Email"
type = "ses"
to_emails = ["soc@example.com"]
from_email = "alerts@example.com"
'''


def test_render_of_a_hostile_record_shows_no_live_markup(tmp_path: Path) -> None:
    hostile = ("<!channel> *Who* `x` ```\n*Who*\nroot (MFA ok)\u202e\u200b\x1b[31m <https://evil.example|login>")
    (tmp_path / "tattletail.toml").write_text(CONFIG)
    (tmp_path / "hostile.json").write_text(json.dumps(hostile_record(hostile)))
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["render", "--config", str(tmp_path / "tattletail.toml"), str(tmp_path / "hostile.json")],
                    out, err)
    assert code == 0, err.getvalue()
    text = out.getvalue()
    assert not INVISIBLE.search(text) and SECRET_URL not in text
    slack = json.loads(text.split("===\n", 1)[1].split("\n\n=== ")[0])
    check_slack(slack, None)
    assert "Subject: [High] " in text
