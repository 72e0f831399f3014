"""A local file holding records on their own (not a log file) is read the way the Lambda reads that shape."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from tattletail import commands
from tattletail.errors import SourceError
from tattletail.inputs import events
from tattletail.inputs.history import LogRef
from tests.helpers import ROOT, load_event

CONFIG = str(ROOT / "tattletail.toml")


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = commands.main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def write(path: Path, document: Any) -> str:
    path.write_text(json.dumps(document))
    return str(path)


def lookup_events(*records: dict[str, Any]) -> dict[str, Any]:
    """What ``aws cloudtrail lookup-events`` prints: each record as JSON text."""
    return {"Events": [{"EventId": r["eventID"], "EventName": r["eventName"], "CloudTrailEvent": json.dumps(r)}
                       for r in records]}


def test_run_and_render_on_an_eventbridge_event_file_evaluate_its_detail(tmp_path: Path) -> None:
    event = load_event("eventbridge-aws-api-call.json")
    bare = write(tmp_path / "bare.json", event["detail"])
    wrapped = write(tmp_path / "eventbridge.json", event)
    expected = run("run", "--config", CONFIG, bare)
    assert expected[0] == 0 and "1 matches" in expected[2]
    assert run("run", "--config", CONFIG, wrapped)[1:] == (expected[1], expected[2].replace(bare, wrapped))
    code, out, _ = run("render", "--config", CONFIG, wrapped)
    assert code == 0 and out == run("render", "--config", CONFIG, bare)[1] and "SSM Start Session" in out


def test_lookup_events_output_is_each_cloudtrail_event(tmp_path: Path) -> None:
    detail = load_event("eventbridge-aws-api-call.json")["detail"]
    other = {**detail, "eventID": "other", "eventName": "CreateUser", "responseElements": {"user": {"userName": "mo"}}}
    code, out, err = run("run", "--config", CONFIG, write(tmp_path / "lookup.json", lookup_events(detail, other)))
    assert code == 0 and "1 files, 2 records, 2 matches" in err
    assert "username: mo" in out and "StartSession" in out


def test_lookup_events_records_keep_their_number_text(tmp_path: Path) -> None:
    record = {"eventID": "e1", "eventName": "X", "n": 1}
    path = tmp_path / "lookup.json"
    path.write_text(json.dumps(lookup_events(record)).replace('\\"n\\": 1', '\\"n\\": 1.0'))
    records = LogRef(str(path), path=str(path)).standalone_records()
    assert records is not None and len(records) == 1
    assert events.standalone({"eventName": "X"}, "f", lambda text, where: None) == [{"eventName": "X"}]
    bare = tmp_path / "bare.json"
    bare.write_text('{"eventID": "e1", "eventName": "X", "n": 1.0}')
    assert records == LogRef(str(bare), path=str(bare)).standalone_records()  # the same reader as a bare record


def test_a_file_naming_log_objects_is_skipped_not_evaluated_as_a_record(tmp_path: Path) -> None:
    path = tmp_path / "s3-event.json"
    path.write_text((ROOT / "tests" / "events" / "eventbridge-s3-object-created.json").read_text())
    assert LogRef(str(path), path=str(path)).standalone_records() is None
    code, _, err = run("run", "--config", CONFIG, str(path))
    assert "0 records" in err


def test_a_damaged_eventbridge_event_file_is_an_error(tmp_path: Path) -> None:
    event = {**load_event("eventbridge-aws-api-call.json"), "detail": "not an object"}
    path = write(tmp_path / "eventbridge.json", event)
    with pytest.raises(SourceError, match="EventBridge detail is a JSON string"):
        LogRef(path, path=path).standalone_records()
    bad = write(tmp_path / "lookup.json", {"Events": [{"CloudTrailEvent": "[1]"}]})
    with pytest.raises(SourceError, match=r"Events\[0\]\.CloudTrailEvent: not a JSON object"):
        LogRef(bad, path=bad).standalone_records()
    code, _, err = run("run", "--config", CONFIG, path)
    assert code == 1 and "EventBridge detail is a JSON string" in err
