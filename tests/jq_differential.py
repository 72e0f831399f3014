"""Run one jq program on one value through the compiled path and through the bundled libjq, and say
whether they differ: every output (as jq prints it, so number text counts), their order, and the error
(or none) that ends the stream. Shared by the conformance suite, the fuzzer and the regression cases."""

from __future__ import annotations

import itertools
import json
from functools import lru_cache
from typing import Any

import jq

from tattletail.jq.compile import compile_program
from tattletail.jq.modes import as_many
from tattletail.jq.nodes import Unsupported
from tattletail.jq.recordtext import exact, record_text
from tattletail.jq.values import Fallback, JqError, tojson

MAX_OUTPUTS = 50
Stream = list[tuple[str, str]]  # ("o", output as JSON text) or ("e", error value as JSON text)


@lru_cache(maxsize=4096)
def _libjq(program: str) -> Any:
    wrapped = (f"[limit({MAX_OUTPUTS}; try ((\n{program}\n\n) | [\"o\", tojson]) catch [\"e\", tojson])]")
    return jq.compile(wrapped)


def libjq_accepts(program: str) -> bool:
    try:
        jq.compile(program)
    except ValueError:
        return False
    return True


def libjq_stream(program: str, value: Any) -> Stream:
    """libjq's stream on ``record_text(value)``; a text libjq cannot read (a lone surrogate escape) is
    an error, as the engine reports it."""
    try:
        return [tuple(x) for x in _libjq(program).input_text(record_text(value)).first()]  # type: ignore[misc]
    except ValueError as exc:
        return [("e", tojson(str(exc)))]


def compiled_stream(compiled: Any, value: Any) -> Stream:
    """The compiled path's stream; ``Fallback`` propagates (the value is libjq's to evaluate)."""
    out: Stream = []
    try:
        for x in itertools.islice(as_many(compiled)(value), MAX_OUTPUTS):
            out.append(("o", tojson(x)))
    except JqError as exc:
        if len(out) < MAX_OUTPUTS:
            out.append(("e", tojson(exc.value)))
    return out


def compile_or_none(program: str) -> Any:
    try:
        return compile_program(program)
    except (Unsupported, RecursionError):
        return None


def difference(program: str, value: Any, compiled: Any = None) -> str | None:
    """``None`` when the engines agree (or the compiled path hands the value to libjq), else what
    differs. A program the compiler accepts but libjq rejects is a difference too."""
    compiled = compiled if compiled is not None else compile_or_none(program)
    if compiled is None:
        return None
    if not libjq_accepts(program):
        return "compiler accepts a program libjq rejects"
    if not exact(value):
        return None
    try:
        got = compiled_stream(compiled, value)
    except Fallback:
        return None
    except Exception as exc:  # noqa: BLE001 - a Python exception is a bug to report, not to hide
        return f"Python exception {type(exc).__name__}: {exc}"
    want = libjq_stream(program, value)
    if got != want:
        return f"compiled {got} != libjq {want}"
    return None


def parse_value(text: str) -> Any:
    """A JSON value as the log reader gives it: ints exact, other numbers floats (inf beyond range)."""
    return json.loads(text)
