"""The Lambda's config from S3: refused like a local file when not UTF-8, kept or replaced by the bundled
one when S3 cannot be read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from tattletail.config import current, loader
from tattletail.errors import ConfigError

GOOD = '[[rule]]\nname = "Create User"\njq_match = \'select(.eventName == "CreateUser")\'\n'
LATIN = '[[rule]]\nname = "Caf\xe9"\njq_match = \'select(.requestParameters.userName == "jos\xe9")\'\n'
BUNDLED = '[[rule]]\nname = "Bundled"\njq_match = \'select(.eventName == "DeleteTrail")\'\n'


@pytest.fixture
def s3(aws: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    monkeypatch.setenv("S3_CONFIG_BUCKET", "conf")
    monkeypatch.setenv("S3_CONFIG_PATH", "tattletail.toml")
    monkeypatch.setenv("LAMBDA_TASK_ROOT", str(tmp_path))  # the zip: no bundled config unless a test writes one
    client = boto3.client("s3")
    client.create_bucket(Bucket="conf")
    return client


def events(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "tattletail"]


def test_a_config_in_s3_that_is_not_utf8_is_refused_like_a_local_one(s3: Any, tmp_path: Path) -> None:
    (tmp_path / "latin.toml").write_bytes(LATIN.encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        loader.load(tmp_path / "latin.toml")
    s3.put_object(Bucket="conf", Key="tattletail.toml", Body=LATIN.encode("latin-1"))
    with pytest.raises(ConfigError, match=r"s3://conf/tattletail.toml: not UTF-8 text"):
        current.current()


def test_a_config_in_s3_turning_non_utf8_keeps_the_last_good_one(s3: Any, caplog: pytest.LogCaptureFixture) -> None:
    s3.put_object(Bucket="conf", Key="tattletail.toml", Body=GOOD.encode())
    good = current.current().config
    s3.put_object(Bucket="conf", Key="tattletail.toml", Body=LATIN.encode("latin-1"))
    assert current.current().config is good
    (kept,) = [e for e in events(caplog) if e["event"] == "config_invalid_kept_previous"]
    assert "not UTF-8 text" in str(kept["problems"])


def test_an_s3_read_failure_after_a_good_load_keeps_it(s3: Any, caplog: pytest.LogCaptureFixture) -> None:
    s3.put_object(Bucket="conf", Key="tattletail.toml", Body=GOOD.encode())
    good = current.current().config
    s3.delete_object(Bucket="conf", Key="tattletail.toml")
    assert current.current().config is good
    assert [e["event"] for e in events(caplog)].count("config_unreadable_kept_previous") == 1


def test_a_cold_container_that_cannot_read_s3_falls_back_to_the_bundled_config(
        s3: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(ConfigError, match=r"s3://conf/tattletail.toml: cannot read"):
        current.current()  # nothing bundled: fails as before
    (tmp_path / "tattletail.toml").write_text(BUNDLED)
    loaded = current.current()
    assert [r.name for r in loaded.config.rules] == ["Bundled"] and loaded.fallback == str(tmp_path / "tattletail.toml")
    (line,) = [e for e in events(caplog) if e["event"] == "config_unreadable_using_bundled"]
    assert "cannot read" in str(line["problem"])
    assert current.current() is loaded  # still unreadable: the bundled one stays, with an error each time
    s3.put_object(Bucket="conf", Key="tattletail.toml", Body=GOOD.encode())
    assert [r.name for r in current.current().config.rules] == ["Create User"]  # S3 wins once readable


def test_a_cold_container_with_an_invalid_bundled_config_reports_both(s3: Any, tmp_path: Path) -> None:
    (tmp_path / "tattletail.toml").write_text("[[rule]]\nname = 1\n")
    with pytest.raises(ConfigError, match="cannot read") as raised:
        current.current()
    assert any("tattletail.toml: rule" in p for p in raised.value.problems)
