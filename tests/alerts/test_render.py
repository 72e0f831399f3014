"""What each destination sends, pinned for a record of every identity type, in English (UTC and
New York) and Japanese (Tokyo). Regenerate after an intended change with ``UPDATE_GOLDEN=1 make test``
and review the diff."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from tattletail import commands as cli
from tests.helpers import EVENTS

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
RECORDS = sorted((EVENTS / "records").glob("*.json"))


def render(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["render", "--config", str(GOLDEN / "render.toml"), *args], out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("record", RECORDS, ids=lambda p: p.stem)
def test_rendered_output_is_pinned(record: Path) -> None:
    code, out, err = render(str(record))
    assert code == 0, err
    golden = GOLDEN / f"{record.stem}.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(out)
    assert out == golden.read_text()


def slack_payloads(out: str) -> list[dict]:
    chunks = out.split("=== ")[1:]
    return [json.loads(c.split("===\n", 1)[1]) for c in chunks if "(slack_webhook" in c.split("\n", 1)[0]]


def test_japanese_labels_and_tokyo_time() -> None:
    _, out, _ = render(str(EVENTS / "records" / "assumed-role.json"))
    en, ja = slack_payloads(out)
    en_text, ja_text = json.dumps(en, ensure_ascii=False), json.dumps(ja, ensure_ascii=False)
    assert "2026-11-20 23:30:05 UTC" in en_text and "*Time*" in en_text
    assert "2026-11-21 08:30:05 JST" in ja_text  # the next morning in Tokyo
    for label in ("発生時刻", "ユーザー", "接続元IPアドレス", "対象リソース", "イベント名", "リージョン", "アカウント"):
        assert label in ja_text
    assert "2026-11-20 18:30:05 EST" in out  # the SNS text destination is in New York


def test_slack_header_has_severity_marker_and_title() -> None:
    _, out, _ = render(str(EVENTS / "records" / "assumed-role.json"))
    header = slack_payloads(out)[0]["blocks"][0]["text"]["text"]
    assert header == "\U0001f7e0 StartSession in eu-west-1"


def test_render_filters_by_rule_and_destination_and_says_when_nothing_matches(tmp_path: Path) -> None:
    code, out, _ = render("--destination", "Email JA", str(EVENTS / "records" / "root.json"))
    assert code == 0 and out.count("=== ") == 1 and "Subject: [高] ConsoleLogin in us-east-1" in out
    code, _, err = render("--rule", "Nope", str(EVENTS / "records" / "root.json"))
    assert code == 2 and "no rule named 'Nope'" in err  # a usage error
    other = tmp_path / "r.json"
    other.write_text(json.dumps({"eventName": "x"}))
    code, _, err = render(str(other))
    assert code == 1 and "nothing to render" in err


def test_a_hostile_record_renders_with_no_live_markup_anywhere() -> None:
    """``records/hostile.json`` (pinned above as ``golden/hostile.txt``): mentions, links, mrkdwn, fences,
    forged lines, controls, bidi and HTML in the fields every destination shows."""
    from tests.destinations.test_injection import INVISIBLE, check_slack

    code, out, err = render(str(EVENTS / "records" / "hostile.json"))
    assert code == 0, err
    links = {"https://wiki.example.com/runbooks/watched-call", "https://us-east-1.console.aws.amazon.com/cloudtrailv2/"
             "home?region=us-east-1#/events/5f2c7e4e-1b1a-4c55-8f10-000000000099"}
    for payload in slack_payloads(out):
        check_slack(payload, None, links)
    assert INVISIBLE.search(out) is None
    assert "<script>" not in out.split("--- HTML part ---")[1]
