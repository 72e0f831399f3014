from __future__ import annotations

import io

from tattletail import commands as cli
from tests.helpers import ROOT


def test_check_explain_says_which_engine_runs_each_rule() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["check", "--explain", str(ROOT / "tattletail.toml")], out, err) == 0
    lines = out.getvalue().splitlines()
    assert "  Create User: python; evaluated only when eventName in \"CreateUser\"" in lines
    assert any(line.startswith("  CloudTrail trail changed: libjq (builtin del/1)") for line in lines)


def test_run_prints_matches_and_a_summary() -> None:
    out, err = io.StringIO(), io.StringIO()
    example = str(ROOT / "examples" / "cloudtrail-example.json")
    assert cli.main(["run", "--config", str(ROOT / "tattletail.toml"), example], out, err) == 0
    assert "[Create User] 2026-11-20T10:02:55Z CreateUser by bob: username: deploy-bot" in out.getvalue()
    assert "1 files, 7 records, 4 matches, 0 rule errors" in err.getvalue()


def test_run_jsonl_rows() -> None:
    import json

    out = io.StringIO()
    cli.main(["run", "--config", str(ROOT / "tattletail.toml"), "--format", "jsonl",
              str(ROOT / "examples" / "cloudtrail-example.json")], out, io.StringIO())
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert rows[0] == {"rule": "SSM Start Session", "file": str(ROOT / "examples" / "cloudtrail-example.json"),
                       "index": 1, "eventID": "4b8e2d6a-0000-4000-9000-000000000002",
                       "match": "user: arn:aws:sts::123456789012:assumed-role/Admin/alice target: i-0a1b2c3d4e5f67890"}


def test_check_reports_every_problem_and_exits_1(tmp_path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[rule]]\nname = "A"\njq_match = "select("\ndestinations = ["X"]\n')
    err = io.StringIO()
    assert cli.main(["check", str(bad)], io.StringIO(), err) == 1
    assert "2 problem(s) found" in err.getvalue()
