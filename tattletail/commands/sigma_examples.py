"""Test records for an imported Sigma rule: one its detection selects and a close miss (one value changed),
built from the parsed detection itself and checked against the compiled translation."""

from __future__ import annotations

import json
import re
from typing import Any

from tattletail.alerts.facts import get


def examples(rule: Any, program_text: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """A record the rule's detection selects and a close miss (one value changed), built from the
    detection itself and checked against ``program_text`` (the rule's translation, handed in by the
    importer so this module need not import it back); ``None`` when none could be built."""
    from tattletail.jq.compile import compile_program
    from tattletail.jq.modes import NOTHING, first
    from tattletail.jq.values import JqError
    from tattletail.rules import Rule

    compile_program(program_text)  # Unsupported when outside the compiled subset
    program = Rule("example", program_text).python  # values the compiled path cannot judge go to libjq

    def matches(record: dict[str, Any]) -> bool:
        try:
            return first(program, record) is not NOTHING
        except JqError:
            return False

    tree = rule.detection.parsed_condition[0].parsed
    positive: dict[str, Any] = {}
    leaves: list[tuple[str, Any]] = []
    _satisfy(tree, True, positive, leaves)
    if not matches(positive):
        return None
    for field, _value in leaves:  # change one value the match depends on, as little as possible
        current = _get(positive, field)
        for changed in (current + "-x", "x-" + current, current[:-1], "no-match") if isinstance(current, str) else ():
            miss = json.loads(json.dumps(positive))
            _set(miss, field, changed)
            if not matches(miss):
                return positive, miss
    return None


def _get(record: dict[str, Any], field: str) -> Any:
    return get(record, *field.split("."))


def _set(record: dict[str, Any], field: str, value: Any) -> None:
    keys = field.split(".")
    for key in keys[:-1]:
        record = record.setdefault(key, {})
        if not isinstance(record, dict):
            return
    record[keys[-1]] = value


def _sample(value: Any) -> str | None:
    from sigma.types import SigmaRegularExpression, SigmaString, SpecialChars

    if isinstance(value, SigmaString):
        return "".join(p if isinstance(p, str) else ("x" if p == SpecialChars.WILDCARD_MULTI else "y")
                       for p in value.s)
    if isinstance(value, SigmaRegularExpression):
        guess = re.sub(r"\.\+|\.\*", "x", str(value.regexp)).replace("\\", "")
        return guess if re.search(str(value.regexp), guess) else None
    return None


def _satisfy(node: Any, want: bool, record: dict[str, Any], leaves: list[tuple[str, Any]]) -> None:
    from sigma.conditions import ConditionAND, ConditionFieldEqualsValueExpression, ConditionNOT, ConditionOR
    from sigma.types import SigmaFieldReference, SigmaNull

    if isinstance(node, ConditionNOT):
        _satisfy(node.args[0], not want, record, leaves)
    elif isinstance(node, ConditionAND | ConditionOR):
        all_of = isinstance(node, ConditionAND) == want
        for arg in node.args if all_of else node.args[:1]:
            _satisfy(arg, want, record, leaves)
    elif isinstance(node, ConditionFieldEqualsValueExpression):
        field, value = node.field, node.value
        if isinstance(value, SigmaNull):
            if not want:
                _set(record, field, "present")
            return
        if isinstance(value, SigmaFieldReference):
            _set(record, field, "same" if want else "one")
            _set(record, value.field, "same" if want else "other")
            return
        sample = _sample(value)
        if want and sample is not None:
            current = _get(record, field)
            if current is None:
                _set(record, field, sample)
                leaves.append((field, value))
            elif isinstance(current, str):  # several values for one field (|all): hold them all
                _set(record, field, f"{current} {sample}")
        # a leaf that must not match stays absent: an absent field matches no string
