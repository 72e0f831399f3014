"""``tattletail import sigma`` with correlation rules: translated with their base rules, or skipped
with the reason; the pack it writes loads, and its correlation fires on records built for it."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from tattletail.commands import main
from tattletail.config import loader
from tattletail.correlation import history

pytest.importorskip("sigma.correlations", reason="pySigma (the sigma extra) is needed to import Sigma rules")

BASE = """
title: Failed console login
id: 0b5e1b1c-1111-4c2a-9d56-000000000001
status: test
description: A console login failed.
author: Someone
level: low
logsource:
  product: aws
  service: cloudtrail
detection:
  selection:
    eventName: ConsoleLogin
    responseElements.ConsoleLogin: Failure
  condition: selection
---
title: Access key created
id: 0b5e1b1c-1111-4c2a-9d56-000000000002
status: test
level: low
logsource:
  product: aws
  service: cloudtrail
detection:
  selection:
    eventName: CreateAccessKey
  condition: selection
"""

CORRELATIONS = """
title: Brute force then key
id: 0b5e1b1c-2222-4c2a-9d56-000000000001
status: test
level: high
author: Someone
correlation:
  type: temporal_ordered
  rules:
    - 0b5e1b1c-1111-4c2a-9d56-000000000001
    - 0b5e1b1c-1111-4c2a-9d56-000000000002
  group-by:
    - user
  aliases:
    user:
      0b5e1b1c-1111-4c2a-9d56-000000000001: userIdentity.userName
      0b5e1b1c-1111-4c2a-9d56-000000000002: requestParameters.userName
  timespan: 1h
---
title: Many failures
id: 0b5e1b1c-2222-4c2a-9d56-000000000002
status: test
level: medium
correlation:
  type: event_count
  rules:
    - 0b5e1b1c-1111-4c2a-9d56-000000000001
  group-by:
    - userIdentity.arn
  timespan: 10m
  condition:
    gt: 2
---
title: Few failures
id: 0b5e1b1c-2222-4c2a-9d56-000000000003
status: test
correlation:
  type: event_count
  rules:
    - 0b5e1b1c-1111-4c2a-9d56-000000000001
  timespan: 10m
  condition:
    lt: 2
---
title: Sum of bytes
id: 0b5e1b1c-2222-4c2a-9d56-000000000004
status: test
correlation:
  type: value_sum
  rules:
    - 0b5e1b1c-1111-4c2a-9d56-000000000001
  timespan: 10m
  condition:
    gte: 100
    field: bytes
---
title: Over a month
id: 0b5e1b1c-2222-4c2a-9d56-000000000005
status: test
correlation:
  type: event_count
  rules:
    - 0b5e1b1c-1111-4c2a-9d56-000000000001
  timespan: 30d
  condition:
    gte: 3
"""


def _import(tmp_path: Path) -> tuple[int, str, str, Path]:
    (tmp_path / "base.yml").write_text(BASE)
    (tmp_path / "correlations.yml").write_text(CORRELATIONS)
    out, err = io.StringIO(), io.StringIO()
    pack = tmp_path / "pack.toml"
    code = main(["import", "sigma", str(tmp_path / "base.yml"), str(tmp_path / "correlations.yml"),
                 "-o", str(pack)], out=out, err=err)
    return code, pack.read_text() if pack.exists() else "", err.getvalue(), pack


def test_sigma_correlations_are_translated_or_skipped_with_the_reason(tmp_path: Path) -> None:
    code, text, err, pack = _import(tmp_path)
    assert code == 0, err
    assert "2 rules translated, 2 correlations, 3 skipped" in err
    assert "skipped: Few failures" in err and "condition lt needs the window to close" in err
    assert "skipped: Sum of bytes" in err and "correlation type value_sum has no counterpart" in err
    assert "skipped: Over a month" in err and "timespan 30d is longer than 7 days" in err
    rules, correlations = loader.load_definitions(pack)
    by_name = {c.name: c for c in correlations}
    ordered = by_name["Brute force then key"]
    assert ordered.type == "temporal_ordered" and ordered.timespan == 3600 and ordered.needed == 2
    assert dict(ordered.group_by[0].per_rule)["Access key created"].text == ".requestParameters.userName"
    many = by_name["Many failures"]
    assert many.needed == 3 and many.condition == "gt 2" and many.group_by[0].name == ".userIdentity.arn"
    assert many.alert_rule.severity == "medium" and many.sigma_id == "0b5e1b1c-2222-4c2a-9d56-000000000002"


def test_an_imported_correlation_fires_on_the_sequence_it_describes(tmp_path: Path) -> None:
    code, _, err, pack = _import(tmp_path)
    assert code == 0, err
    rules, correlations = loader.load_definitions(pack)
    ordered = next(c for c in correlations if c.name == "Brute force then key")
    failed = {"eventID": "a", "eventTime": "2026-11-02T10:05:00Z", "eventName": "ConsoleLogin",
              "responseElements": {"ConsoleLogin": "Failure"}, "userIdentity": {"userName": "bob"}}
    key = {"eventID": "b", "eventTime": "2026-11-02T10:20:00Z", "eventName": "CreateAccessKey",
           "requestParameters": {"userName": "bob"}}
    by = {r.name: r for r in rules}
    fired = history.correlate([ordered], rules, [("Failed console login", failed), ("Access key created", key)])
    assert fired.matches["Brute force then key"] == 1
    early_key = dict(key, eventTime="2026-11-02T10:01:00Z")  # the key before the failure: not in order
    missed = history.correlate([ordered], rules, [("Failed console login", failed), ("Access key created", early_key)])
    assert missed.matches["Brute force then key"] == 0
    assert by["Failed console login"].destinations == ()
    assert json.loads(json.dumps(sorted(by)))  # names survive TOML round trip
