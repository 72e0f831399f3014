from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path

from tattletail import commands as cli
from tattletail.commands import report_sessions as sessions


def record(name: str, time: str, who: str, **params) -> dict:
    rec = {"eventSource": "ssm.amazonaws.com", "eventName": name, "eventTime": time, "awsRegion": "us-east-1",
           "recipientAccountId": "111122223333", "sourceIPAddress": "203.0.113.10",
           "userIdentity": {"type": "IAMUser", "userName": who, "arn": f"arn:aws:iam::111122223333:user/{who}"},
           "requestParameters": params.get("request"), "responseElements": params.get("response")}
    return rec


RECORDS = [
    record("StartSession", "2026-11-01T09:00:00Z", "alice", request={"target": "i-1"},
           response={"sessionId": "alice-1"}),
    record("TerminateSession", "2026-11-01T09:30:00Z", "alice", request={"sessionId": "alice-1"},
           response={"sessionId": "alice-1"}),
    record("StartSession", "2026-11-01T10:00:00Z", "alice", request={"target": "i-1"},
           response={"sessionId": "alice-2"}),
    record("StartSession", "2026-11-02T08:00:00Z", "bob", request={"target": "i-2"}, response={"sessionId": "bob-1"}),
    record("ResumeSession", "2026-11-02T08:05:00Z", "bob", request={"sessionId": "bob-1"}),
    {"eventSource": "ec2.amazonaws.com", "eventName": "StartInstances", "eventTime": "2026-11-02T08:00:00Z"},
]


def rows(records: list[dict]) -> list[dict]:
    return [r for r in map(sessions.session_row, records) if r is not None]


def test_rows_fill_the_instance_of_resume_and_terminate_and_drop_duplicates() -> None:
    kept = sessions.within(rows(RECORDS + RECORDS[:2]), None, None)  # the same records delivered twice
    assert [(r["event"], r["target"], r["who"]) for r in kept] == [
        ("StartSession", "i-1", "alice"), ("TerminateSession", "i-1", "alice"), ("StartSession", "i-1", "alice"),
        ("StartSession", "i-2", "bob"), ("ResumeSession", "i-2", "bob")]


def test_counts_per_pair_and_per_day_and_the_period() -> None:
    kept = sessions.within(rows(RECORDS), None, None)
    assert sessions.per_pair(kept) == {("i-1", "alice"): 2, ("i-2", "bob"): 1}
    assert sessions.per_day(kept) == {"2026-11-01": 2, "2026-11-02": 1}
    only_second = sessions.within(rows(RECORDS), date(2026, 11, 2), date(2026, 11, 2))
    assert {r["who"] for r in only_second} == {"bob"}


def test_formats_through_the_command_line(tmp_path: Path) -> None:
    (tmp_path / "log.json").write_text(json.dumps({"Records": RECORDS}))
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["report", "sessions", "--workers", "1", "--format", "csv", str(tmp_path)], out, err) == 0
    table = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert len(table) == 5 and table[0]["target"] == "i-1" and table[0]["session_id"] == "alice-1"
    out = io.StringIO()
    assert cli.main(["report", "sessions", "--workers", "1", "--format", "json", str(tmp_path)], out, err) == 0
    report = json.loads(out.getvalue())
    assert report["per_instance_user"] == [{"target": "i-1", "who": "alice", "sessions": 2},
                                           {"target": "i-2", "who": "bob", "sessions": 1}]
    out = io.StringIO()
    assert cli.main(["report", "sessions", "--workers", "1", str(tmp_path)], out, err) == 0
    text = out.getvalue()
    assert "Sessions per (instance, user)" in text and "Sessions per day" in text
    assert "5 events, 3 sessions started" in text


def test_corpus_sessions(corpus) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["report", "sessions", "--format", "json", *map(str, corpus)], out, err) == 0
    report = json.loads(out.getvalue())
    assert {s["event"] for s in report["sessions"]} == {"StartSession", "ResumeSession", "TerminateSession"}


def test_csv_cells_that_start_like_a_formula_are_inert(tmp_path: Path) -> None:
    hostile = record("StartSession", "2026-11-01T09:00:00Z", "=HYPERLINK(\"http://x\",\"y\")",
                     request={"target": "@SUM(1)"}, response={"sessionId": "-2+3"})
    hostile["sourceIPAddress"] = "\t+cmd"
    (tmp_path / "log.json").write_text(json.dumps({"Records": [hostile]}))
    out = io.StringIO()
    assert cli.main(["report", "sessions", "--workers", "1", "--format", "csv", str(tmp_path)], out, io.StringIO()) == 0
    row = next(csv.DictReader(io.StringIO(out.getvalue())))
    assert row["target"] == "'@SUM(1)" and row["session_id"] == "'-2+3" and row["source_ip"] == "'\t+cmd"
    assert row["who"].startswith("'=")
    assert row["time"] == "2026-11-01T09:00:00Z"  # ordinary cells untouched


def test_failed_attempts_with_the_same_values_are_counted_per_event_id() -> None:
    failed = [dict(record("StartSession", "2026-11-01T09:00:00Z", "mallory", request={"target": "i-9"}),
                   errorCode="AccessDenied", eventID=f"e{n}") for n in range(3)]
    kept = sessions.within(rows(failed + failed[:1]), None, None)  # e0 delivered twice: still one
    assert [r["event_id"] for r in kept] == ["e0", "e1", "e2"]
    assert "3 failed calls" in sessions.render(kept, "table")


def test_an_unreadable_event_time_names_its_event_id() -> None:
    late = dict(record("StartSession", "yesterday", "alice", request={"target": "i-1"}), eventID="odd-1")
    undated = sessions.RuleErrors()
    assert sessions.within(rows([late]), date(2026, 11, 1), None, undated) == []
    assert undated.count == 1 and undated.first_event_id == "odd-1"
