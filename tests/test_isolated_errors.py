"""A rule in the isolation child reports the same error text as the same program in-process: jq's own
text for the error value (the binding would print ``error(1.0)`` as "1")."""

from __future__ import annotations

from typing import Any

import pytest

from tattletail.engine import Engine
from tattletail.rules import Rule


@pytest.mark.parametrize("value", ["1.0", "1e22", '"plain text"', '{"a": [1, 2.5]}', "null", "-0", "[true]"])
def test_an_isolated_rules_error_reads_as_in_process(value: str) -> None:
    isolated = Rule("isolated", f'def fail: error({value}); select(.eventName == "X") | fail')
    in_process = Rule("in process", f'select(.eventName == "X") | error({value})')
    messages: dict[str, str] = {}

    def on_error(rule: Rule, record: dict[str, Any], message: str) -> None:
        messages[rule.name] = message

    engine = Engine([isolated, in_process], compiled=False, on_error=on_error)
    try:
        assert [rule.name for rule in engine.isolated] == ["isolated"]
        assert engine.evaluate({"eventName": "X", "eventID": "e1"}) == []
    finally:
        engine.close()
    assert messages["isolated"] == messages["in process"], messages
