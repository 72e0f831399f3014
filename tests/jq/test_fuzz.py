"""The differential fuzzer with fixed seeds (random seeds live in ``make fuzz``), and every divergence
found so far as a named regression case (tests/jq_regressions.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tattletail.jq.modes import NOTHING, first
from tattletail.jq.recordtext import exact
from tattletail.jq.values import Fallback, JqError, normalize
from tattletail.rules import Rule
from tests.jq_differential import compile_or_none, compiled_stream, difference, libjq_stream
from tests.jq_fuzz import run
from tests.jq_regressions import REGRESSIONS


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fuzzer_finds_no_divergence_on_fixed_seeds(seed: int) -> None:
    accepted, pairs, divergences = run(seed, programs=100, inputs=4)
    print(f"seed {seed}: {accepted} programs accepted, {pairs} pairs, {len(divergences)} divergences")
    assert divergences == []
    assert accepted > 30 and pairs > 200  # the generator stays inside the compiled grammar enough


def _rule_answer(rule: Rule, value: Any) -> Any:
    """What the engine takes from a compiled rule: its first output (as the binding would give it back)
    or the error text (jq's own: the string, else the value's ``tojson``)."""
    try:
        out = first(rule.python, value)
    except JqError as exc:
        return ("error", str(exc))
    return ("none",) if out is NOTHING else ("out", normalize(out))


def _libjq_answer(program: str, value: Any) -> Any:
    import json

    stream = libjq_stream(program, value)
    if not stream:
        return ("none",)
    kind, text = stream[0]
    if kind == "e":
        message = json.loads(text)  # the stream holds the error value's tojson
        return ("error", message if isinstance(message, str) else text)
    return ("out", normalize(json.loads(text)))


@pytest.mark.parametrize(("name", "program", "value", "how"), REGRESSIONS, ids=[r[0] for r in REGRESSIONS])
def test_regression(name: str, program: str, value: Any, how: str) -> None:
    compiled = compile_or_none(program)
    if how == "refused":
        assert compiled is None
        return
    assert compiled is not None, "the compiler should accept this program"
    if how == "compiled":
        assert exact(value)
        assert compiled_stream(compiled, value) == libjq_stream(program, value)
    else:
        with pytest.raises(Fallback):
            if exact(value):
                compiled_stream(compiled, value)
            else:
                raise Fallback("the value is not exact")
        assert difference(program, value, compiled) is None
    # through the rule, as the engine runs it: libjq's first answer exactly, never a Python exception
    assert _rule_answer(Rule(name, program), value) == _libjq_answer(program, value)


def test_only_the_fields_a_rule_reads_decide_between_compiled_and_libjq() -> None:
    from tattletail.jq.roots import root_fields

    program = 'select(.eventName == "X") | .a'
    assert root_fields(program) == frozenset({"eventName", "a"})
    assert root_fields("tojson") is None and root_fields('select(.a) | .') is None
    rule = Rule("r", program)
    for record in ({"eventName": "X", "a": 1.0, "big": 2**60}, {"eventName": "X", "a": 2**60},
                   {"eventName": "X", "a": float("inf")}, {"eventName": "X", "a": "x\ud800"}):
        assert _rule_answer(rule, record) == _libjq_answer(program, record), record
