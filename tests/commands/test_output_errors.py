"""A failure to write our own output (a full disk, a missing directory) is ``error: <output>: <reason>``,
exit 1: no traceback, and never blamed on the input being read when it happened."""

from __future__ import annotations

import errno
import io
import json
from pathlib import Path

import boto3
import pytest

from tattletail import commands as cli
from tests.helpers import ROOT


class FullDisk(io.StringIO):
    """Standard output on a full disk, as ``> /dev/full`` gives it."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        raise OSError(errno.ENOSPC, "No space left on device")


def test_run_to_a_full_disk_names_the_output_and_stops(tmp_path: Path) -> None:
    records = [{"eventName": "CreateUser", "responseElements": {"user": {"userName": f"u{n}"}}} for n in range(5)]
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    first.write_text(json.dumps({"Records": records}))
    second.write_text(json.dumps({"Records": records}))
    out, err = FullDisk(), io.StringIO()
    code = cli.main(["run", "--config", str(ROOT / "tattletail.toml"), str(first), str(second)], out, err)
    assert code == 1
    assert "error: standard output: No space left on device" in err.getvalue()
    assert str(first) not in err.getvalue()  # not the input's fault
    assert out.writes == 1  # the command stopped at the first failed write: no other match, no other file


def test_policy_to_a_full_disk_is_an_error_not_a_traceback() -> None:
    err = io.StringIO()
    assert cli.main(["policy", "--config", str(ROOT / "tattletail.toml")], FullDisk(), err) == 1
    assert "error: standard output: No space left on device" in err.getvalue()


def test_template_to_a_missing_directory_names_the_path(tmp_path: Path) -> None:
    target = tmp_path / "nonexistent" / "t.yaml"
    err = io.StringIO()
    code = cli.main(["template", "--config", str(ROOT / "tattletail.toml"), "--template",
                     str(ROOT / "template.yaml"), "-o", str(target)], io.StringIO(), err)
    assert code == 1 and err.getvalue().strip().endswith(f"error: {target}: No such file or directory")


def test_template_outside_the_clone_names_the_option(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    err = io.StringIO()
    assert cli.main(["template", "--config", str(ROOT / "tattletail.toml")], io.StringIO(), err) == 1
    assert "error: template.yaml: No such file or directory" in err.getvalue() and "--template" in err.getvalue()


def test_import_sigma_to_a_missing_directory_names_the_path(tmp_path: Path) -> None:
    (tmp_path / "r.yml").write_text("title: Create user\nid: 5f2a1c3e-1b2c-4d5e-8f90-0123456789ab\nstatus: test\n"
                                    "logsource: {product: aws, service: cloudtrail}\ndetection:\n"
                                    "    selection:\n        eventName: CreateUser\n    condition: selection\n"
                                    "level: high\n")
    target = tmp_path / "nonexistent" / "x.toml"
    err = io.StringIO()
    assert cli.main(["import", "sigma", str(tmp_path / "r.yml"), "-o", str(target)], io.StringIO(), err) == 1
    assert f"error: {target}: No such file or directory" in err.getvalue()


def test_backfill_manifest_to_a_missing_directory_names_the_path(tmp_path: Path, aws: None) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="trail")
    s3.put_object(Bucket="trail", Key="AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/01/a.json.gz", Body=b"{}")
    target = tmp_path / "nonexistent" / "m.csv"
    err = io.StringIO()
    assert cli.main(["backfill", "manifest", "s3://trail/AWSLogs/", "-o", str(target)], io.StringIO(), err) == 1
    assert err.getvalue().strip() == f"error: {target}: No such file or directory"
