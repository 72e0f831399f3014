from __future__ import annotations

import json

from tattletail.alerts.alert import Alert, View
from tattletail.destinations import ses, slack, sns
from tattletail.destinations.base import mask_url, scrub
from tattletail.rules import Match, Rule

RULE = Rule.compiled("SSM <Start>", 'select(.eventName == "StartSession")', description="Someone opened a shell & more")
RECORD = {
    "eventTime": "2026-11-20T09:01:40Z", "eventName": "StartSession", "eventSource": "ssm.amazonaws.com",
    "awsRegion": "ap-northeast-1", "recipientAccountId": "123456789012", "sourceIPAddress": "203.0.113.24",
    "userAgent": "<!channel> <https://evil.example|click>",
    "userIdentity": {"type": "IAMUser", "userName": "alice", "arn": "arn:aws:iam::123456789012:user/alice"},
    "requestParameters": {"target": "i-0a1b2c3d4e5f67890"},
}


def test_mask_url_shows_only_scheme_host_and_port() -> None:
    assert mask_url("https://hooks.slack.com/services/T1/B2/SECRET") == "https://hooks.slack.com/***"
    assert mask_url("http://127.0.0.1:8080/x/y") == "http://127.0.0.1:8080/***"
    assert mask_url("https://user:pw@hooks.slack.com?token=abc#frag") == "https://hooks.slack.com/***"
    assert mask_url("https://hooks.slack.com:99999/services/T1/B2/SECRET") == "***"  # never raises
    assert mask_url("___YOUR_SLACK_WEBHOOK___") == "***"
    assert "SECRET" not in scrub("failed for url: /services/T1/B2/SECRET", "https://hooks.slack.com/services/T1/B2/SECRET")
    url = "https://u:Pass1234@hooks.slack.com/services/T1/B2/Tok3nTok3n?token=Qu3ryQu3ry#Fr4gFr4g"
    said = ("Max retries exceeded with url: /services/T1/B2/Tok3nTok3n?token=Qu3ryQu3ry; "
            "token Tok3nTok3n, query token=Qu3ryQu3ry, fragment Fr4gFr4g, auth u:Pass1234, quoted %2Fservices")
    for part in ("Tok3nTok3n", "Qu3ryQu3ry", "Fr4gFr4g", "Pass1234"):
        assert part not in scrub(said, url)


def test_slack_message_has_rule_description_annotation_and_key_facts() -> None:
    match = Match(RULE, RECORD, "user: alice", "user: alice")
    message = slack.render(Alert.of(match), View())
    text = json.dumps(message)
    assert message["blocks"][0] == {"type": "header",
                                    "text": {"type": "plain_text", "text": "\U0001f514 SSM ‹Start›", "emoji": False}}
    for expected in ("Someone opened a shell &amp; more", "user: alice", "2026-11-20T09:01:40Z", "ap-northeast-1",
                     "123456789012", "alice", "203.0.113.24", "i-0a1b2c3d4e5f67890", "*User*"):
        assert expected in text
    assert message["text"] == "\U0001f514 SSM &lt;Start&gt;: StartSession (by alice)"


def test_slack_escapes_everything_from_the_event() -> None:
    text = json.dumps(slack.render(Alert.of(Match(RULE, RECORD, RECORD, None)), View()))
    assert "<!channel>" not in text and "<https://evil" not in text
    assert "&lt;!channel&gt;" in text


def test_slack_blocks_stay_within_limits_for_huge_records() -> None:
    record = dict(RECORD, requestParameters={"policy": "x" * 50_000, "target": "i-" + "9" * 5000})
    rule = Rule.compiled("r", ".", fields=tuple((f"f{i}", '"v" * 3000') for i in range(200)))
    message = slack.render(Alert.of(Match(rule, record, "a" * 10_000, "a" * 10_000)), View())
    assert len(message["blocks"]) <= 50
    for block in message["blocks"]:
        if "text" in block:
            assert len(block["text"]["text"]) <= 3000
        for field in block.get("fields", []):
            assert len(field["text"]) <= 2000
    assert message["blocks"][-1]["text"]["text"].endswith("(shortened)```")


def test_sns_payload_is_the_go_tools() -> None:
    assert json.loads(sns.payload(Match(RULE, RECORD, RECORD, None))) == {
        "name": RULE.name, "description": RULE.description, "record": RECORD, "match": RECORD}
    assert json.loads(sns.payload(Match(RULE, RECORD, "x", "x")))["match"] == "x"


def test_sns_payload_is_shortened_to_fit_256kb_and_says_so() -> None:
    record = dict(RECORD, responseElements={"blob": "y" * 400_000})
    payload = sns.payload(Match(RULE, record, record, None))
    body = json.loads(payload)
    assert len(payload.encode()) <= sns.MESSAGE_LIMIT
    assert body["shortened"] == ["responseElements"]
    assert body["record"]["responseElements"].startswith("[shortened: ")
    assert body["record"]["eventName"] == "StartSession" and body["match"] == body["record"]


def test_sns_arn_validation() -> None:
    assert sns.Sns.validate({"sns_arn": "arn:aws:sns:us-east-1:1234567890:cloudtail_alert"}) == []
    assert sns.Sns.validate({"sns_arn": "arn:aws-us-gov:sns:us-gov-east-1:123456789012:t.fifo"}) == []
    assert sns.Sns.validate({"sns_arn": "arn:aws:sqs:us-east-1:123456789012:q"})


def test_sns_text_format_has_a_readable_body_and_a_one_line_subject() -> None:
    rule = Rule.compiled("SSM", ".", severity="high", title='"\\(.userIdentity.userName) opened\\na session"')
    dest = sns.Sns("t", "arn:aws:sns:us-east-1:123456789012:t", format="text", view=View("Asia/Tokyo", "ja"))
    rendered = dest.render(Alert.of(Match(rule, RECORD, True, None)))
    # SNS subjects are ASCII: English labels; the title names who already
    assert rendered["Subject"] == "[High] alice opened a session: StartSession"
    assert "発生時刻" in rendered["Message"] and "2026-11-20 18:01:40 JST" in rendered["Message"]
    long = sns.subject("{title} " + "x" * 200, Alert.of(Match(rule, RECORD, True, None)), View())
    assert len(long) == 99 and long.isascii() and long.endswith("...") and "\n" not in long  # "less than 100"


def test_sns_subject_template_is_checked() -> None:
    assert sns.Sns.validate({"sns_arn": "arn:aws:sns:us-east-1:1:t", "subject": "{nope} {title"})
    assert sns.Sns.validate({"sns_arn": "arn:aws:sns:us-east-1:1:t", "subject": "{who}: {event}"}) == []


def test_ses_has_text_and_escaped_html_parts() -> None:
    dest = ses.Ses("m", ["a@example.com"], "b@example.com")
    rendered = dest.render(Alert.of(Match(RULE, RECORD, "<b>x</b>", "<b>x</b>")))
    body = rendered["Message"]["Body"]
    assert "<!channel>" in body["Text"]["Data"]  # plain text is shown as it is
    assert "<!channel>" not in body["Html"]["Data"] and "&lt;!channel&gt;" in body["Html"]["Data"]
    assert "<b>x</b>" not in body["Html"]["Data"]
    assert rendered["Message"]["Subject"]["Data"] == "SSM <Start>: StartSession (by alice)"
