"""Sigma correlation rules -> ``[[correlation]]`` tables (``tattletail import sigma``).

Sigma's ``event_count``, ``value_count``, ``temporal`` and ``temporal_ordered`` keep their meaning here,
over the base rules the same import translated, with ``group-by`` fields and ``aliases`` as jq paths.
What cannot be kept exactly is skipped with the reason, never approximated: the other types
(``value_sum``, ``value_avg``, percentiles), conditions other than ``gte``/``gt`` (they need the window
to close), extended (boolean) conditions, timespans beyond 7 days, correlations of correlations,
references to rules that were not translated, ``generate: true`` (in a pack, base rules alert only
through their correlations), and a count beyond ``MAX_COUNT``.

One difference is stated rather than skipped over: Sigma leaves the window's placement to the
backend; tattletail's windows are fixed and aligned to the clock (see ``correlation.model``).
"""

from __future__ import annotations

import json
import re
from typing import Any

from tattletail.correlation.model import MAX_COUNT, MAX_TIMESPAN, show_duration

SUPPORTED = ("event_count", "value_count", "temporal", "temporal_ordered")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
LEVELS = {"informational": "info", "low": "low", "medium": "medium", "high": "high", "critical": "critical"}


class SkippedCorrelation(Exception):
    """A Sigma correlation that cannot be translated faithfully; the message says why. (A Sigma rule that
    cannot is ``commands.sigma_sources.Skipped``.) Not a ``TattletailError``: the importer turns it into a
    ``skipped:`` line and it never leaves the command."""


def is_correlation(rule: Any) -> bool:
    from sigma.correlations import SigmaCorrelationRule

    return isinstance(rule, SigmaCorrelationRule)


def path(field: str) -> str:
    """A Sigma field name as a jq path: ``.a.b``, quoting steps that are not identifiers. A step through
    a non-object gives nothing (the group's value is absent), as ``model.Path`` reads it."""
    steps = field.split(".")
    if all(_IDENT.match(s) for s in steps):
        return "".join(f".{s}" for s in steps)
    return "".join(f".{s}?" if _IDENT.match(s) else f".[{json.dumps(s)}]?" for s in steps)


def rule_key(rule: Any) -> str:
    """What identifies a Sigma rule across loads (a correlation may be read with its rules more than once):
    its id, else its title."""
    return str(rule.id) if getattr(rule, "id", None) else f"title:{rule.title}"


def _base_name(reference: Any, translated: dict[str, str]) -> str:
    rule = getattr(reference, "rule", None)
    if rule is None:
        raise SkippedCorrelation(f"rule {reference.reference!r} is not among the rules read")
    if is_correlation(rule):
        raise SkippedCorrelation(f"it correlates another correlation ({reference.reference!r}), "
                                 "which tattletail does not chain")
    name = translated.get(rule_key(rule))
    if name is None:
        raise SkippedCorrelation(f"its rule {rule.title!r} was not translated (see its own reason)")
    return name


def translate(rule: Any, translated: dict[str, str]) -> dict[str, Any]:
    """One Sigma correlation as the values of a ``[[correlation]]`` table; ``SkippedCorrelation`` with the reason
    when it cannot be kept exactly. ``translated`` maps each translated base rule (``rule_key``) to its name."""
    from sigma.correlations import SigmaCorrelationCondition

    kind = rule.type.name.lower()
    if kind not in SUPPORTED:
        raise SkippedCorrelation(f"correlation type {kind} has no counterpart (supported: {', '.join(SUPPORTED)})")
    if rule.generate:
        raise SkippedCorrelation("generate: true (its base rules alerting on their own) cannot be kept: in a pack, "
                      "base rules alert only through their correlations")
    condition = rule.condition
    if not isinstance(condition, SigmaCorrelationCondition):
        raise SkippedCorrelation("an extended (boolean) condition over the rules cannot be kept")
    operator = condition.op.name.lower()
    if operator not in ("gte", "gt"):
        raise SkippedCorrelation(f"condition {operator} needs the window to close, "
                                 "which a stream of invocations never sees")
    needed = condition.count + (1 if operator == "gt" else 0)
    if needed > MAX_COUNT:
        raise SkippedCorrelation(f"condition {operator} {condition.count}: counts beyond {MAX_COUNT} are not kept")
    seconds = rule.timespan.seconds
    if seconds > MAX_TIMESPAN:
        raise SkippedCorrelation(f"timespan {rule.timespan.spec} is longer than 7 days")
    rules = [_base_name(ref, translated) for ref in rule.rules or []]
    if not rules:
        raise SkippedCorrelation("it names no rules")
    table: dict[str, Any] = {"name": rule.title, "type": kind, "rules": rules, "timespan": show_duration(seconds)}
    aliases: dict[str, dict[str, str]] = {}
    named = {ref.reference: name for ref, name in zip(rule.rules or [], rules, strict=True)}
    for alias in rule.aliases.aliases.values() if rule.aliases else ():
        mapping = {}
        for ref, field in alias.mapping.items():
            if ref.reference not in named:
                raise SkippedCorrelation(f"alias {alias.alias!r} names {ref.reference!r}, not one of its rules")
            mapping[named[ref.reference]] = path(field)
        aliases[alias.alias] = mapping
    group_by = [name if name in aliases else path(name) for name in rule.group_by or []]
    if group_by:
        table["group_by"] = group_by
    if aliases:
        table["aliases"] = aliases
    if kind == "value_count":
        field = condition.fieldref
        if not isinstance(field, str):
            raise SkippedCorrelation("value_count over several fields at once cannot be kept")
        table["field"] = path(field)
    if kind in ("event_count", "value_count") or needed != len(rules):
        table["condition"] = {operator: condition.count}
    level = rule.level.name.lower() if rule.level else "medium"
    table["severity"] = LEVELS.get(level, "medium")
    if rule.description:
        table["description"] = " ".join(rule.description.split())
    table["sigma_id"] = str(rule.id)
    if rule.author:
        table["author"] = " ".join(rule.author.split())
    return table


def _value(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k, ensure_ascii=False)} = {_value(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


def toml(tables: list[dict[str, Any]], license: str) -> str:
    """``[[correlation]]`` sections for a pack."""
    lines: list[str] = []
    for table in tables:
        lines += ["", "[[correlation]]"]
        lines += [f"{key} = {_value(value)}" for key, value in table.items() if key != "aliases"]
        lines.append(f"license = {_value(license)}")
        for alias, mapping in table.get("aliases", {}).items():
            lines += ["", f"[correlation.aliases.{json.dumps(alias)}]"]
            lines += [f"{json.dumps(rule, ensure_ascii=False)} = {_value(p)}" for rule, p in mapping.items()]
    return "\n".join(lines) + "\n" if lines else ""
