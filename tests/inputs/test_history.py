from __future__ import annotations

from datetime import date

import boto3
import pytest

from tattletail.inputs.history import discover, in_range, key_date

ACCT = "111122223333"


def test_key_dates_in_both_layouts() -> None:
    assert key_date(f"AWSLogs/{ACCT}/CloudTrail/us-east-1/2026/11/02/x.json.gz") == (2026, 11, 2)
    assert key_date(f"custom/AWSLogs/o-abc123/{ACCT}/CloudTrail/eu-west-1/2026/11/") == (2026, 11, None)
    assert key_date(f"AWSLogs/{ACCT}/CloudTrail-Insight/us-east-1/2026/") == (2026, None, None)
    assert key_date("AWSLogs/x/CloudTrail/") is None


def test_partial_dates_are_kept_while_they_can_still_fall_in_range() -> None:
    since, until = date(2026, 10, 30), date(2026, 11, 2)
    assert in_range((2026, None, None), since, until) and in_range((2026, 10, None), since, until)
    assert not in_range((2026, 9, None), since, until) and not in_range((2025, None, None), since, until)
    assert in_range((2026, 11, 2), since, until) and not in_range((2026, 11, 3), since, until)
    assert in_range(None, None, None) and not in_range(None, since, None)


@pytest.fixture
def bucket(aws: None) -> str:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="trail")
    keys = []
    for day in ("2026/10/29", "2026/10/31", "2026/11/01", "2026/11/03"):
        keys += [f"AWSLogs/{ACCT}/CloudTrail/us-east-1/{day}/{ACCT}_CloudTrail_us-east-1_a.json.gz",
                 f"AWSLogs/o-abc123/{ACCT}/CloudTrail/eu-west-1/{day}/{ACCT}_CloudTrail_eu-west-1_b.json.gz",
                 f"AWSLogs/{ACCT}/CloudTrail-Digest/us-east-1/{day}/{ACCT}_CloudTrail-Digest_c.json.gz"]
    keys += [f"AWSLogs/{ACCT}/CloudTrail-Insight/us-east-1/2026/11/01/{ACCT}_CloudTrail-Insight_d.json.gz",
             "AWSLogs/README.txt"]
    for key in keys:
        s3.put_object(Bucket="trail", Key=key, Body=b"{}")
    return "trail"


def test_s3_discovery_with_dates_covers_both_layouts_and_skips_digests(bucket: str) -> None:
    refs = discover([f"s3://{bucket}/AWSLogs/"], date(2026, 10, 30), date(2026, 11, 1))
    assert sorted(r.key for r in refs) == sorted([  # type: ignore[type-var]
        f"AWSLogs/{ACCT}/CloudTrail-Insight/us-east-1/2026/11/01/{ACCT}_CloudTrail-Insight_d.json.gz",
        f"AWSLogs/{ACCT}/CloudTrail/us-east-1/2026/10/31/{ACCT}_CloudTrail_us-east-1_a.json.gz",
        f"AWSLogs/{ACCT}/CloudTrail/us-east-1/2026/11/01/{ACCT}_CloudTrail_us-east-1_a.json.gz",
        f"AWSLogs/o-abc123/{ACCT}/CloudTrail/eu-west-1/2026/10/31/{ACCT}_CloudTrail_eu-west-1_b.json.gz",
        f"AWSLogs/o-abc123/{ACCT}/CloudTrail/eu-west-1/2026/11/01/{ACCT}_CloudTrail_eu-west-1_b.json.gz",
    ])
    assert all(r.name == f"s3://{bucket}/{r.key}" for r in refs)


def test_s3_discovery_without_dates_lists_every_log(bucket: str) -> None:
    assert len(discover([f"s3://{bucket}"])) == 9


def test_missing_sources_are_clear_errors(tmp_path, aws: None) -> None:
    from tattletail.errors import SourceError

    with pytest.raises(SourceError, match="nope: no such file or directory"):
        discover([str(tmp_path / "nope")])
    with pytest.raises(SourceError, match="s3://no-such-bucket/x: cannot list") as caught:
        discover(["s3://no-such-bucket/x"])
    # the one AWS seam's wording (code: message), not botocore's "An error occurred (...) when calling"
    assert "NoSuchBucket: " in str(caught.value)
    assert "An error occurred" not in str(caught.value)


def test_backfill_manifest_lists_log_objects_url_encoded_without_digests(bucket: str, tmp_path) -> None:
    import csv
    import io
    from urllib.parse import unquote_plus

    from tattletail import commands as cli

    s3 = boto3.client("s3", region_name="us-east-1")
    odd = f"AWSLogs/{ACCT}/CloudTrail/us-east-1/2026/11/01/with space+plus.json.gz"
    s3.put_object(Bucket="trail", Key=odd, Body=b"{}")
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["backfill", "manifest", f"s3://{bucket}/AWSLogs/", "--since", "2026-11-01",
                     "--until", "2026-11-01", "-o", str(tmp_path / "manifest.csv")], out, err)
    assert code == 0 and "4 log objects written to" in err.getvalue()
    rows = list(csv.reader(io.StringIO((tmp_path / "manifest.csv").read_text())))
    assert all(r[0] == "trail" for r in rows) and not any("Digest" in r[1] for r in rows)
    assert [f"AWSLogs/{ACCT}/CloudTrail/us-east-1/2026/11/01/with%20space%2Bplus.json.gz"] == [
        r[1] for r in rows if "space" in r[1]]
    assert odd in [unquote_plus(r[1]) for r in rows]  # what the function's Batch handler decodes


def test_s3_discovery_reads_the_folder_after_until_where_late_records_are_delivered(bucket: str) -> None:
    # a record of 23:58 on 10/31 is delivered into the 11/01 folder: --until 10/31 must read that folder
    refs = discover([f"s3://{bucket}/AWSLogs/{ACCT}/CloudTrail/"], date(2026, 10, 31), date(2026, 10, 31))
    assert sorted(r.key for r in refs) == [  # type: ignore[type-var]
        f"AWSLogs/{ACCT}/CloudTrail/us-east-1/2026/10/31/{ACCT}_CloudTrail_us-east-1_a.json.gz",
        f"AWSLogs/{ACCT}/CloudTrail/us-east-1/2026/11/01/{ACCT}_CloudTrail_us-east-1_a.json.gz",
    ]


def test_s3_keys_outside_the_layout_are_read_with_a_date_range(bucket: str) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.put_object(Bucket=bucket, Key="exports/ct.json.gz", Body=b"{}")
    for source in (f"s3://{bucket}/exports/ct.json.gz", f"s3://{bucket}/exports/"):
        refs = discover([source], date(2026, 11, 1), date(2026, 11, 1))
        assert [r.key for r in refs] == ["exports/ct.json.gz"], source


def test_replay_until_a_day_finds_its_last_minutes_delivered_the_next_day(aws: None) -> None:
    import gzip
    import io
    import json

    from tattletail import commands as cli
    from tests.helpers import ROOT

    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="late")
    record = {"eventName": "CreateUser", "eventTime": "2026-10-31T23:58:00Z", "eventID": "late-1",
              "responseElements": {"user": {"userName": "a"}}}
    key = f"AWSLogs/{ACCT}/CloudTrail/us-east-1/2026/11/01/{ACCT}_CloudTrail_us-east-1_20261101T0005Z_x.json.gz"
    s3.put_object(Bucket="late", Key=key, Body=gzip.compress(json.dumps({"Records": [record]}).encode()))
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["replay", "--workers", "1", "--format", "json", "--config", str(ROOT / "tattletail.toml"),
                     "--since", "2026-10-31", "--until", "2026-10-31", "s3://late/AWSLogs/"], out, err)
    assert code == 0, err.getvalue()
    assert json.loads(out.getvalue())["matches"] == 1
    # the 11/01 folder is read for --since 11/01, but its record of 10/31 is filtered out by eventTime
    out = io.StringIO()
    cli.main(["replay", "--workers", "1", "--format", "json", "--config", str(ROOT / "tattletail.toml"),
              "--since", "2026-11-01", "--until", "2026-11-01", "s3://late/AWSLogs/"], out, io.StringIO())
    assert json.loads(out.getvalue())["matches"] == 0
