"""jq 1.8.2's own test suite (../shared/jq-tests) through the compiled path: every case whose program
the compiler accepts gives exactly libjq's outputs, and every ``%%FAIL`` program is refused."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import ROOT
from tests.jq_differential import compile_or_none, difference, parse_value

JQ_TESTS = ROOT.parent / "shared" / "jq-tests"


@dataclass(frozen=True)
class Case:
    file: str
    line: int
    program: str
    input: str | None      # None for a %%FAIL case
    expected: tuple[str, ...]


def _skip(line: str) -> bool:
    stripped = line.lstrip(" \t")
    return stripped == "" or stripped.startswith("#")


def read_cases(path: Path) -> list[Case]:
    """The cases of one ``.test`` file, read as jq's ``src/jq_test.c`` reads them."""
    lines = path.read_text(encoding="utf-8").split("\n")
    cases, i, must_fail = [], 0, False
    while i < len(lines):
        line = lines[i]
        i += 1
        if _skip(line):
            continue
        if line in ("%%FAIL", "%%FAIL IGNORE MSG"):
            must_fail = True
            continue
        start = i
        if must_fail:
            while i < len(lines) and not _skip(lines[i]):
                i += 1
            cases.append(Case(path.name, start, line, None, ()))
            must_fail = False
            continue
        given = lines[i] if i < len(lines) else ""
        i += 1
        expected = []
        while i < len(lines) and not _skip(lines[i]):
            expected.append(lines[i])
            i += 1
        cases.append(Case(path.name, start, line, given, tuple(expected)))
    return cases


def all_cases() -> list[Case]:
    return [case for path in sorted(JQ_TESTS.glob("*.test")) for case in read_cases(path)]


def _value(text: str) -> Any:
    try:
        return parse_value(text.lstrip("\ufeff"))
    except ValueError:
        return None  # not one JSON value (several, NaN...): the log reader would not produce it


@pytest.fixture(scope="module")
def cases() -> list[Case]:
    if not JQ_TESTS.is_dir():
        pytest.skip("../shared/jq-tests is absent: jq's own test suite is needed for this test")
    return all_cases()


def test_fail_programs_are_refused_by_the_compiler(cases: list[Case]) -> None:
    accepted = [(c.file, c.line, c.program) for c in cases if c.input is None and compile_or_none(c.program)]
    assert accepted == []


def test_every_accepted_case_gives_libjqs_exact_outputs(cases: list[Case]) -> None:
    counts = {"cases": 0, "accepted": 0, "run": 0}
    divergences = []
    for case in cases:
        if case.input is None:
            continue
        counts["cases"] += 1
        compiled = compile_or_none(case.program)
        if compiled is None:
            continue
        counts["accepted"] += 1
        value = _value(case.input)
        if value is None and case.input.strip() != "null":
            continue
        counts["run"] += 1
        diff = difference(case.program, value, compiled)
        if diff is not None:
            divergences.append((f"{case.file}:{case.line}", case.program, case.input, diff))
    print(f"jq conformance: {counts}, divergences {len(divergences)}")
    assert divergences == []
    assert counts["accepted"] > 100  # the subset covers a real part of jq's own suite


def test_compiled_outputs_match_the_files_expectations_where_libjq_does(cases: list[Case]) -> None:
    """The expected lines of the file (compared as jq's test runner does, by value) hold for the
    compiled path wherever they hold for the bundled libjq."""
    from tests.jq_differential import compiled_stream, libjq_stream

    checked = 0
    for case in cases:
        if case.input is None or (compiled := compile_or_none(case.program)) is None:
            continue
        value = _value(case.input)
        if value is None:
            continue
        try:
            expected = [json.loads(line) for line in case.expected]
        except ValueError:
            continue
        try:
            got = [json.loads(text) for kind, text in compiled_stream(compiled, value) if kind == "o"]
        except Exception:  # noqa: BLE001 - Fallback: libjq's own answer, compared in the test above
            continue
        want = [json.loads(text) for kind, text in libjq_stream(case.program, value) if kind == "o"]
        if want == expected:
            checked += 1
            assert got == expected, (case.file, case.line, case.program)
    assert checked > 50
