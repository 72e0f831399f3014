"""A correlation's ``[[correlation.test]]`` cases: a sequence of records, and whether it must fire.

A case gives ``records`` (JSON texts, one record each) or ``file`` (beside the pack: a log file, or a
JSON array of records), ``fire`` (whether the correlation must fire, exactly once) and optionally
``count`` (what the alert must say was counted). The records go through the Lambda's ``Engine`` with
the pack's rules, then their base-rule matches through ``history.correlate`` in event-time order: the
path ``run`` and ``replay`` take.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tattletail.correlation import history
from tattletail.correlation.model import Correlation
from tattletail.delivery.report import Report
from tattletail.engine import Engine
from tattletail.pipeline import process_records
from tattletail.rules import Match, Rule


def _records(correlation: Correlation, case: dict[str, Any]) -> list[dict[str, Any]]:
    values: Any
    if "records" in case:
        values = [json.loads(text) for text in case["records"]]
    else:
        data = json.loads((Path(correlation.origin).parent / case["file"]).read_text("utf-8"))
        values = data.get("Records") if isinstance(data, dict) else data
        if not isinstance(values, list):
            raise ValueError("the test file holds neither a log file ({\"Records\": [...]}) nor a JSON array")
    for value in values:
        if not isinstance(value, dict):
            raise ValueError(f"a test record is a JSON {type(value).__name__}, not an object")
    return list(values)


def run_case(correlation: Correlation, rules: Iterable[Rule], n: int,
             case: dict[str, Any]) -> tuple[str, bool, str, str]:
    """(label, passed, expected, got) of one case."""
    label = f"test[{n}]" + (f" {case['name']!r}" if case.get("name") else "")
    expected = "fires once" if case["fire"] else "does not fire"
    if case["fire"] and "count" in case:
        expected += f" counting {case['count']}"
    try:
        records = _records(correlation, case)
    except (OSError, ValueError) as exc:
        return label, False, expected, f"unreadable test records: {exc}"
    bases = [rule for rule in rules if rule.name in correlation.rules]
    found: list[tuple[str, dict[str, Any]]] = []
    process_records(records, Report(f"{correlation.origin} {label}"), Engine(bases),
                    on_match=lambda match, index: found.append((match.rule.name, match.record)))
    alerts: list[Match] = []
    history.correlate([correlation], bases, found, on_alert=alerts.append)
    got = f"fired {len(alerts)} times" if alerts else "did not fire"
    if len(alerts) == 1:
        got = f"fired once counting {alerts[0].record['count']}"
    if not case["fire"]:
        return label, not alerts, expected, got
    passed = len(alerts) == 1 and ("count" not in case or alerts[0].record["count"] == case["count"])
    return label, passed, expected, got


def untested(correlations: Iterable[Correlation]) -> list[str]:
    missing = []
    for correlation in correlations:
        kinds = {case["fire"] for case in correlation.tests}
        lacking = {True: "has no firing case", False: "has no near miss (a case that must not fire)"}
        if not kinds:
            missing.append(f"{correlation.origin}: correlation {correlation.name!r} has no test cases "
                           f"(it needs a firing case and a near miss)")
        elif kinds != {True, False}:
            (gap,) = {True, False} - kinds
            missing.append(f"{correlation.origin}: correlation {correlation.name!r} {lacking[gap]}")
    return missing
