"""``[[correlation]]`` tables -> checked ``Correlation``s, every problem naming the file and correlation.

Checked at load like rules: unknown and missing keys, the type, that every base rule exists, durations
(``timespan``, ``lateness``), the condition (``gte``/``gt``, a count up to ``MAX_COUNT``), every jq
path of ``group_by``, ``aliases`` and ``field``, destinations and severity, and the test cases' shape.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tattletail.alerts.alert import SEVERITIES
from tattletail.correlation.model import (
    DEFAULT_LATENESS,
    MAX_COUNT,
    MAX_TIMESPAN,
    OPERATORS,
    TYPES,
    WINDOWS,
    Correlation,
    GroupKey,
    Path,
    alert_rule,
    parse_duration,
)
from tattletail.rules import compile_jq

CORRELATION_KEYS: dict[str, tuple[type, bool]] = {
    "name": (str, True),
    "type": (str, True),
    "rules": (list, True),
    "group_by": (list, False),
    "aliases": (dict, False),
    "timespan": (str, True),
    "condition": (dict, False),
    "field": (str, False),
    "weight": (str, False),
    "lateness": (str, False),
    "windows": (str, False),
    "destinations": (list, False),
    "severity": (str, False),
    "description": (str, False),
    "runbook": (str, False),
    "test": (list, False),
    "sigma_id": (str, False),
    "author": (str, False),
    "license": (str, False),
}
CASE_KEYS: dict[str, tuple[type, bool]] = {
    "name": (str, False),
    "fire": (bool, True),
    "records": (list, False),
    "file": (str, False),
    "count": (int, False),
}
Problem = Callable[[str, str], None]                           # (where, message)
Targets = Callable[[list[Any], str], "tuple[str, ...] | None"]  # destination ids checked, or None
CheckKeys = Callable[..., "dict[str, Any] | None"]               # config.tables.table_or_none


def _path(text: Any, what: str, where: str, problem: Problem) -> Path | None:
    if not isinstance(text, str) or not text.strip():
        problem(where, f"{what} must be a jq path (a non-empty string), not {text!r}")
        return None
    try:
        return Path(text, compile_jq(text))
    except ValueError as exc:
        problem(where, f"invalid {what} {text!r}: {exc}")
        return None


def _group_by(values: dict[str, Any], rules: tuple[str, ...], where: str, problem: Problem) -> list[GroupKey] | None:
    aliases = values.get("aliases", {})
    keys: list[GroupKey] = []
    ok = True
    for name, table in aliases.items():
        if not isinstance(table, dict):
            problem(where, f"aliases.{name} must be a table of rule name -> jq path")
            ok = False
            continue
        for rule in table:
            if rule not in rules:
                problem(where, f"aliases.{name} names {rule!r}, not a rule of this correlation "
                               f"(rules: {', '.join(repr(r) for r in rules)})")
                ok = False
        missing = [r for r in rules if r not in table]
        if missing:
            problem(where, f"aliases.{name} gives no path for {', '.join(repr(r) for r in missing)}")
            ok = False
    for item in values.get("group_by", []):
        if isinstance(item, str) and item in aliases and isinstance(aliases[item], dict):
            per_rule = []
            for rule, text in aliases[item].items():
                path = _path(text, f"aliases.{item}.{rule!r}", where, problem)
                if path is None:
                    ok = False
                else:
                    per_rule.append((rule, path))
            keys.append(GroupKey(item, None, tuple(per_rule)))
        elif isinstance(item, str) and not item.startswith("."):
            problem(where, f"group_by {item!r} is neither a jq path (starting with '.') nor an alias "
                           f"(aliases: {', '.join(aliases) or 'none'})")
            ok = False
        else:
            path = _path(item, "group_by path", where, problem)
            if path is None:
                ok = False
            else:
                keys.append(GroupKey(" ".join(item.split()), path))  # one line in titles and explain
    return keys if ok else None


def _condition(values: dict[str, Any], kind: str, rules: tuple[str, ...], where: str,
               problem: Problem) -> tuple[int, str] | None:
    condition = values.get("condition")
    if condition is None:
        if kind in ("temporal", "temporal_ordered"):
            return len(rules), f"gte {len(rules)}"
        problem(where, f"missing key 'condition' (a table such as {{ gte = 10 }}; {kind} needs one)")
        return None
    if len(condition) != 1 or next(iter(condition)) not in OPERATORS:
        problem(where, f"condition must be one of {{ gte = N }} or {{ gt = N }}, not {condition!r} (lt, lte "
                       f"and eq need the window to close, which a stream of invocations never sees)")
        return None
    operator, number = next(iter(condition.items()))
    if isinstance(number, bool) or not isinstance(number, int):
        problem(where, f"condition.{operator} must be an integer, not {number!r}")
        return None
    needed = number + 1 if operator == "gt" else number
    temporal = kind in ("temporal", "temporal_ordered")
    limit = len(rules) if temporal else MAX_COUNT
    if not 1 <= needed <= limit:
        low, high = (0, limit - 1) if operator == "gt" else (1, limit)
        why = f"{kind} counts at most its {limit} rules" if temporal else f"at most {MAX_COUNT}: state items stay small"
        problem(where, f"condition {{ {operator} = {number} }} is out of range: {operator} takes {low} to {high} "
                       f"({why})")
        return None
    return needed, f"{operator} {number}"


def _tests(cases: list[Any], where: str, source: str, problems: list[str], check_keys: CheckKeys) -> bool:
    ok = True
    for n, case in enumerate(cases, 1):
        values = check_keys(case, CASE_KEYS, f"{source}: {where}: test[{n}]", problems)
        if values is None:
            ok = False
        elif ("records" in values) == ("file" in values):
            problems.append(f"{source}: {where}: test[{n}] needs exactly one of 'records' (JSON texts, "
                            f"one a record) or 'file' (a log file beside the pack)")
            ok = False
        elif any(not isinstance(r, str) for r in values.get("records", [])):
            problems.append(f"{source}: {where}: test[{n}] records must be JSON texts (strings)")
            ok = False
    return ok


def check(tables: list[Any], source: str, known_rules: dict[str, str], problems: list[str],
          targets: Targets, check_keys: CheckKeys, *, in_pack: bool = False,
          names: set[str] | None = None) -> list[Correlation]:
    """The checked correlations of ``tables`` (from ``source``); problems appended to ``problems``.
    ``known_rules`` maps every rule name a correlation may use to the file defining it; ``names`` is
    every rule and correlation name seen so far (a correlation's alerts are delivered under its name).
    ``check_keys`` is the loader's table checker (unknown, missing and mistyped keys), handed in so this
    module does not import the loader that imports it."""
    names = names if names is not None else set()
    found: list[Correlation] = []
    for n, table in enumerate(tables, 1):
        where = f"correlation[{n}]"
        if isinstance(table, dict) and isinstance(table.get("name"), str):
            where = f"correlation {table['name']!r}"

        def problem(at: str, message: str, where: str = where) -> None:
            problems.append(f"{source}: {where}: {message}")

        if isinstance(table, dict) and isinstance(table.get("name"), str):
            if table["name"] in names:
                problem(where, "name already used by a rule or correlation (its alerts go out under it)")
            names.add(table["name"])
        if in_pack and isinstance(table, dict) and "destinations" in table:
            problem(where, "a rule pack names no destinations: bind them in the config's [[include]]")
            continue
        values = check_keys(table, CORRELATION_KEYS, f"{source}: {where}", problems)
        if values is None:
            continue
        ok = True
        kind = values["type"]
        if kind not in TYPES:
            problem(where, f"unknown type {kind!r} (valid: {', '.join(TYPES)})")
            continue
        rules = values["rules"]
        if not rules or any(not isinstance(r, str) for r in rules) or len(set(rules)) != len(rules):
            problem(where, "rules must be a non-empty list of distinct rule names")
            continue
        rules = tuple(rules)
        for rule in rules:
            if rule not in known_rules:
                shown = ", ".join(repr(r) for r in list(known_rules)[:20]) or "none"
                problem(where, f"unknown rule {rule!r} (defined: {shown}{', ...' if len(known_rules) > 20 else ''})")
                ok = False
        if kind == "temporal_ordered" and len(rules) < 2:
            problem(where, "temporal_ordered needs at least two rules")
            ok = False
        timespan = parse_duration(values["timespan"])
        if timespan is None or timespan > MAX_TIMESPAN:
            problem(where, f"timespan {values['timespan']!r} is not a duration from 1s to 7d "
                           f"(such as '30s', '5m', '1h', '2d')")
            ok = False
        lateness = parse_duration(values.get("lateness", DEFAULT_LATENESS))
        if lateness is None or lateness > MAX_TIMESPAN:
            problem(where, f"lateness {values.get('lateness')!r} is not a duration from 1s to 7d")
            ok = False
        windows = values.get("windows", "overlapping")
        if windows not in WINDOWS:
            problem(where, f"unknown windows {windows!r} (valid: {', '.join(WINDOWS)})")
            ok = False
        condition = _condition(values, kind, rules, where, problem)
        field_path = None
        if kind == "value_count":
            if "field" not in values:
                problem(where, "value_count needs 'field' (the jq path whose distinct values are counted)")
                ok = False
            else:
                field_path = _path(values["field"], "field", where, problem)
                ok = ok and field_path is not None
        elif "field" in values:
            problem(where, f"'field' is for value_count only, not {kind}")
            ok = False
        weight = None
        if "weight" in values:
            if kind != "event_count":
                problem(where, f"'weight' is for event_count only, not {kind}")
                ok = False
            else:
                weight = _path(values["weight"], "weight", where, problem)
                ok = ok and weight is not None
        group_by = _group_by(values, rules, where, problem)
        severity = values.get("severity")
        if severity is not None and severity not in SEVERITIES:
            problem(where, f"unknown severity {severity!r} (valid: {', '.join(SEVERITIES)})")
            ok = False
        runbook = values.get("runbook")
        if runbook is not None and not runbook.startswith(("https://", "http://")):
            problem(where, f"runbook is not an http(s) URL: {runbook!r}")
            ok = False
        destinations = targets(values.get("destinations", []), where)
        ok = _tests(values.get("test", []), where, source, problems, check_keys) and ok
        if not ok or condition is None or group_by is None or destinations is None:
            continue
        assert timespan is not None and lateness is not None
        found.append(Correlation(
            values["name"], kind, rules, tuple(group_by), timespan, condition[0], condition[1], lateness,
            alert_rule(values["name"], description=values.get("description", ""), destinations=destinations,
                       severity=severity, runbook=runbook, origin=source),
            field_path, tuple(values.get("test", ())), source, values.get("sigma_id"), weight,
            overlapping=windows == "overlapping"))
    return found
