"""Rules tested like code: each rule's ``[[rule.test]]`` cases, run by ``tattletail test``.

A case gives a record (``record`` as JSON text, or ``file``: a JSON file beside the pack holding a record
or a log file with one record), whether the rule must match it, and optionally the annotation it must
produce. A jq runtime error counts as no match, as it does in the Lambda.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from tattletail.config import loader as config_module
from tattletail.correlation import testing as correlation_testing
from tattletail.correlation.model import Correlation
from tattletail.delivery.report import Report
from tattletail.engine import Engine
from tattletail.errors import ConfigError
from tattletail.inputs.history import LogRef
from tattletail.jq.values import json_name
from tattletail.pipeline import process_records, process_ref
from tattletail.rules import Match, Rule


@dataclass(frozen=True)
class CaseResult:
    rule: Rule
    case: str
    passed: bool
    expected: str = ""
    got: str = ""


def collect(paths: Iterable[str | Path]) -> list[Rule]:
    """The rules of the given packs, configs (with their included packs) and directories of either."""
    return collect_all(paths)[0]


def collect_all(paths: Iterable[str | Path]) -> tuple[list[Rule], list[Correlation]]:
    """The rules and correlations of the given packs, configs and directories of either."""
    rules: list[Rule] = []
    correlations: list[Correlation] = []
    problems: list[str] = []
    for path in paths:
        path = Path(path)
        files = sorted(path.rglob("*.toml")) if path.is_dir() else [path]
        for file in files:
            try:
                found = config_module.load_definitions(file)
            except ConfigError as exc:
                problems += exc.problems
                continue
            rules += found[0]
            correlations += found[1]
    if problems:
        raise ConfigError(problems)
    return rules, correlations


def run_correlations(correlations: Iterable[Correlation], rules: list[Rule]) -> list[CaseResult]:
    """Each correlation's cases, its base rules taken from the file that defines it."""
    results = []
    for correlation in correlations:
        own = [rule for rule in rules if rule.name in correlation.rules]
        for n, case in enumerate(correlation.tests, 1):
            label, passed, expected, got = correlation_testing.run_case(correlation, own, n, case)
            results.append(CaseResult(correlation.alert_rule, label, passed, expected, got))
    return results


def _records(rule: Rule, case: dict[str, Any]) -> list[dict[str, Any]] | LogRef:
    """The case's record (inline JSON text), or its file beside the pack: read like any other file."""
    if "file" in case:
        path = Path(rule.origin).parent / case["file"]
        return LogRef(str(path), path=str(path))
    value = json.loads(case["record"])
    if not isinstance(value, dict):
        raise ValueError(f"the test record is a JSON {json_name(value)}, not an object")
    return [value]


def case_records(rule: Rule, case: dict[str, Any]) -> list[dict[str, Any]]:
    """The record(s) of a case, read as ``run_case`` reads them (for tests that mutate them)."""
    source = _records(rule, case)
    if not isinstance(source, LogRef):
        return source
    found: list[dict[str, Any]] = []
    process_ref(source, Engine([Rule(name="any record", jq_match=".")], prefilter=False),
                on_match=lambda match, index: found.append(match.record))
    return found


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def run_case(rule: Rule, n: int, case: dict[str, Any], engine: Engine | None = None) -> CaseResult:
    """One case through ``pipeline.process_records`` with the Lambda's ``Engine`` (prefilter, compiled
    Python or libjq), so a rule that passes its tests behaves the same in production."""
    label = f"test[{n}]" + (f" {case['name']!r}" if case.get("name") else "")
    expected = "match" if case["match"] else "no match"
    if case["match"] and "annotation" in case:
        expected += f" annotated {_show(case['annotation'])}"
    try:
        source = _records(rule, case)
    except ValueError as exc:
        return CaseResult(rule, label, False, expected, f"unreadable test record: {exc}")
    matches: list[Match] = []
    engine = engine or Engine([rule])
    if isinstance(source, LogRef):
        report = process_ref(source, engine, on_match=lambda match, index: matches.append(match))
        if report.error or report.skipped or report.records != 1:
            problem = report.error or report.skipped or f"{report.records} records, not one"
            return CaseResult(rule, label, False, expected, f"unreadable test record: {problem}")
    else:
        report = process_records(source, Report(f"{rule.origin} {label}"), engine,
                                 on_match=lambda match, index: matches.append(match))
    match = matches[0] if matches else None
    if report.rule_errors:
        got = f"jq error (no match): {report.rule_errors[rule.name].first_message}"
    elif match is None:
        got = "no match"
    else:
        got = "match" + (f" annotated {_show(match.annotation)}" if match.annotation is not None else "")
    if not case["match"]:
        return CaseResult(rule, label, match is None, expected, got)
    if match is None:
        return CaseResult(rule, label, False, expected, got)
    if "annotation" in case and match.annotation != case["annotation"]:
        return CaseResult(rule, label, False, expected, got)
    return CaseResult(rule, label, True, expected, got)


def run(rules: Iterable[Rule]) -> list[CaseResult]:
    results = []
    for rule in rules:
        engine = Engine([rule])
        results += [run_case(rule, n, case, engine) for n, case in enumerate(rule.tests, 1)]
    return results


def untested(rules: Iterable[Rule]) -> list[str]:
    """Rules lacking a case that must match or a close miss that must not."""
    missing = []
    for rule in rules:
        kinds = {case["match"] for case in rule.tests}
        if kinds != {True, False}:
            need = " and no ".join(k for k, v in (("matching case", True), ("close miss", False)) if v not in kinds)
            missing.append(f"{rule.origin}: rule {rule.name!r} has no {need}")
    return missing


def cmd_test(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        rules, correlations = collect_all(args.paths)
    except ConfigError as exc:
        print("\n".join(exc.problems), file=err)
        return 1
    if not rules:
        print(f"no rules found in {', '.join(args.paths)} (looked for [[rule]] tables in *.toml files)", file=err)
        return 1
    results = run(rules) + run_correlations(correlations, rules)
    if not results:
        print(f"no test cases: none of the {len(rules)} rules has a [[rule.test]] case", file=err)
        return 1
    failed = [r for r in results if not r.passed]
    line = "".join("." if r.passed else "F" for r in results)
    print(line, file=out)
    for result in failed:
        kind = "correlation" if any(c.alert_rule is result.rule for c in correlations) else "rule"
        print(f"\nFAILED {result.rule.origin}: {kind} {result.rule.name!r}: {result.case}", file=out)
        print(f"  expected: {result.expected}", file=out)
        print(f"  got:      {result.got}", file=out)
    bases = {name for c in correlations for name in c.rules}
    gaps = untested(r for r in rules if r.name not in bases or r.tests) + correlation_testing.untested(correlations)
    for gap in gaps:
        print(f"warning: {gap}", file=out)
    print(f"\n{len(results) - len(failed)} passed, {len(failed)} failed "
          f"({len(rules)} rules{f', {len(correlations)} correlations' if correlations else ''}, "
          f"{len(gaps)} without both a match and a close miss)", file=out)
    return 1 if failed else 0


def register(sub: Any) -> None:
    test = sub.add_parser("test", help="run the test cases of every rule in packs, configs or directories")
    test.add_argument("paths", nargs="*", default=["rules"], metavar="PATH")
    test.set_defaults(func=cmd_test)
