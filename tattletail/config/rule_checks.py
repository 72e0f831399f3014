"""``[[rule]]`` tables -> ``Rule`` objects, every jq program compiled and checked at load.

Apart from the destination and include checks because this is where a rule's meaning is checked: its
keys and presentation (severity, fields, runbook), the shape of its test cases, every jq program compiled
(``jq_match``, ``title``, ``fields.*``), programs that can never end refused (``tattletail.guard``), regex
literals compiled now rather than failing on every record at run time, and warnings for rules that are
valid but surely not what was meant (reading ``.Records``, matching everything).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import jq

from tattletail import guard
from tattletail.alerts.alert import SEVERITIES
from tattletail.config.tables import Findings, Spec, check_keys, toml_type
from tattletail.jq.lexer import tokenize
from tattletail.jq.nodes import Unsupported
from tattletail.rules import Rule, compile_jq

RULE_KEYS: Spec = {
    "name": (str, True),
    "jq_match": (str, True),
    "description": (str, False),
    "destinations": (list, False),
    "severity": (str, False),
    "title": (str, False),
    "fields": (dict, False),
    "runbook": (str, False),
    "references": (list, False),
    "test": (list, False),
    "digest_threshold": (int, False),
    # provenance of imported rules (tattletail import sigma)
    "sigma_id": (str, False),
    "author": (str, False),
    "license": (str, False),
    "falsepositives": (list, False),
    # a pack rule shipped off (too noisy for most accounts, say why in its description); an include's
    # ``enable`` list turns it on
    "enabled": (bool, False),
}
TEST_KEYS: Spec = {
    "name": (str, False),
    "match": (bool, True),
    "annotation": (object, False),
    "record": (str, False),
    "file": (str, False),
}
REGEX_FUNCTIONS = {"test", "match", "capture", "scan", "split", "splits", "sub", "gsub"}
MATCHES_EVERYTHING = {"true", ".", "select(true)", "select(.)", "select(. != null)"}

def _parsed(program: str) -> Any:
    """The program's AST, or ``None`` outside the compiled subset (the lints then read the text only)."""
    from tattletail.jq.parse import parse

    try:
        return parse(program)
    except (Unsupported, RecursionError):
        return None


def _nodes(node: Any) -> list[Any]:
    """Every AST node under ``node`` (tuples whose first item names them), itself included."""
    found, todo = [], [node]
    while todo:
        item = todo.pop()
        if isinstance(item, tuple) and item and isinstance(item[0], str):
            found.append(item)
            todo.extend(item[1:])
        elif isinstance(item, list):
            todo.extend(item)
    return found


def _reads_records(node: Any) -> bool:
    """``.Records``, ``.["Records"]`` or ``."Records"`` on the record itself."""
    for item in _nodes(node):
        if item[0] == "field" and item[1] == ("identity",) and item[2] == "Records":
            return True
        if item[0] == "index" and item[1] == ("identity",) and item[2] == ("literal", "Records"):
            return True
    return False


def _matches_everything(node: Any, program: str) -> bool:
    """A program that reads no field of the record (``1``, ``"hello"``, ``.``, ``select(true)``) and gives
    a true first output on one record gives it on every record."""
    if any(item[0] in ("field", "index", "iterate") for item in _nodes(node)):
        return False
    if not guard.analyse(program).proven:  # evaluated here, at load: only what surely ends, and soon
        return False
    try:
        outputs = compile_jq(program).input_text('{"eventName": "x"}')
        first = next(iter(outputs), None)
    except (ValueError, StopIteration):
        return False
    return first is not None and first is not False


Targets = Callable[[list[Any], str, str], "tuple[str, ...] | None"]  # (ids, where, source) -> checked ids


class RuleChecker:
    """Checks rule tables; ``names`` is shared with the correlation checks (one namespace per config)."""

    def __init__(self, findings: Findings, targets: Targets, names: set[str]) -> None:
        self.findings = findings
        self.targets = targets
        self.names = names

    def check(self, tables: list[Any], source: str, in_pack: bool = False) -> list[Rule]:
        """The valid rules (enabled or not) in file order; every problem of the others is reported."""
        rules: list[Rule] = []
        problem = self.findings.problem
        for n, table in enumerate(tables, 1):
            where = f"rule[{n}]"
            if isinstance(table, dict) and isinstance(table.get("name"), str):
                where = f"rule {table['name']!r}"
                if table["name"] in self.names:
                    problem(where, "duplicate rule name", source)
                self.names.add(table["name"])
            if in_pack and isinstance(table, dict) and "destinations" in table:
                problem(where, "a rule pack names no destinations: bind them in the config's [[include]]", source)
                continue
            values, ok = check_keys(table, RULE_KEYS, f"{source}: {where}", self.findings.problems)
            if not values and not ok:
                continue
            targets = self.targets(values.get("destinations", []), where, source)
            ok = targets is not None and ok
            jq_match = values.get("jq_match")
            if isinstance(jq_match, str) and not jq_match.strip():
                problem(where, "jq_match is empty", source)
                continue
            ok = self._presentation(values, where, source) and ok
            ok = self._tests(values.get("test", []), where, source) and ok
            fields = tuple((str(label), program) for label, program in values.get("fields", {}).items())
            programs = [("jq_match", jq_match), ("title", values.get("title")),
                        *((f"fields.{label}", program) for label, program in fields)]
            compiled: dict[str, Any] = {}
            for key, program in programs:
                if isinstance(program, str):
                    try:
                        compiled[key] = compile_jq(program)
                    except ValueError as exc:
                        problem(where, f"invalid {key}: {exc}", source)
                        ok = False
                        continue
                    ok = self._bounded(key, program, where, source) and ok
                    for message in bad_regexes(program):
                        problem(where, f"invalid {key}: {message}", source)
                        ok = False
            if isinstance(jq_match, str):
                self._lint(jq_match, where, source)
            if ok:
                rules.append(Rule(
                    values["name"], values["jq_match"], values.get("description", ""), targets or (),
                    values.get("severity"), values.get("title"), fields, values.get("runbook"),
                    tuple(values.get("references", ())), tuple(values.get("test", ())), source,
                    values.get("digest_threshold"), values.get("sigma_id"), values.get("author"),
                    values.get("license"), tuple(str(f) for f in values.get("falsepositives", ())),
                    values.get("enabled", True),
                    _program=compiled["jq_match"], title_program=compiled.get("title"),
                    field_programs=tuple(compiled[f"fields.{label}"] for label, _ in fields)))
        return rules

    def _bounded(self, key: str, program: str, where: str, source: str) -> bool:
        """Refuse a program holding a construct that never ends once reached (``until(false; .)``,
        ``def f: f;``, ``[range(1e12)]``): it is as broken as one that does not compile, and only such
        unmistakable cases are refused (``tattletail.guard``); the merely unproven run isolated."""
        found = guard.problems(program)
        for problem in found:
            self.findings.problem(where, f"{key} can never end: {problem}", source)
        verdict = guard.analyse(program)
        if not found and key != "jq_match" and not verdict.proven:
            self.findings.warn(where, f"{key} is not proven to end in time linear in the record "
                               f"({'; '.join(verdict.unproven)}): it is evaluated in the isolation child under "
                               "the per-record budget, and left out of the alert when it overruns", source)
        return not found

    def _lint(self, jq_match: str, where: str, source: str) -> None:
        """Warnings for a rule that is valid but surely not what was meant."""
        node = _parsed(jq_match)
        if re.search(r"\.Records\b", jq_match) or (node is not None and _reads_records(node)):
            self.findings.warn(where, "jq_match reads .Records, but a rule sees one record at a time (write "
                               "select(.eventName == ...), not .Records[] | select(...))", source)
        everything = node is not None and _matches_everything(node, jq_match)
        if " ".join(jq_match.split()) in MATCHES_EVERYTHING or everything:
            self.findings.warn(where, f"jq_match {jq_match.strip()!r} matches every record", source)

    def _tests(self, tests: list[Any], where: str, source: str) -> bool:
        """Check the shape of a rule's test cases (their records are read by ``tattletail test``)."""
        ok = True
        for n, test in enumerate(tests, 1):
            values, fine = check_keys(test, TEST_KEYS, f"{source}: {where}: test[{n}]", self.findings.problems)
            if not fine:
                ok = False
            elif ("record" in values) == ("file" in values):
                self.findings.problem(where, f"test[{n}] needs exactly one of 'record' (JSON text) or 'file'",
                                      source)
                ok = False
        return ok

    def _presentation(self, values: dict[str, Any], where: str, source: str) -> bool:
        """Check the rule's optional presentation keys; False when one is invalid."""
        ok = True
        problem = self.findings.problem
        severity = values.get("severity")
        if severity is not None and severity not in SEVERITIES:
            problem(where, f"unknown severity {severity!r} (valid: {', '.join(SEVERITIES)})", source)
            ok = False
        for label, program in values.get("fields", {}).items():
            if not isinstance(program, str):
                problem(where, f"fields.{label} must be a jq program (a string), not {toml_type(program)}", source)
                ok = False
        runbook = values.get("runbook")
        if runbook is not None and not runbook.startswith(("https://", "http://")):
            problem(where, f"runbook is not an http(s) URL: {runbook!r}", source)
            ok = False
        for reference in values.get("references", []):
            if not isinstance(reference, str):
                problem(where, f"references must be a list of strings, found {reference!r}", source)
                ok = False
        return ok


def bad_regexes(program: str) -> list[str]:
    """jq's own message for each regex literal of ``program`` that does not compile.

    libjq compiles a regex only when a record reaches it, so without this an invalid one fails on
    every record at run time instead of once at load. Literal arguments of ``test``, ``match``,
    ``capture``, ``scan``, ``split``/``splits``, ``sub`` and ``gsub`` are tried with libjq itself."""
    try:
        tokens = tokenize(program)
    except Unsupported:
        return []
    messages = []
    for at in range(len(tokens) - 2):
        name, paren, literal = tokens[at:at + 3]
        if (name.kind, paren.text, literal.kind) != ("ident", "(", "str") or name.text not in REGEX_FUNCTIONS:
            continue
        if name.text == "split" and not (at + 3 < len(tokens) and tokens[at + 3].text == ";"):
            continue  # split/1 splits on a plain string, not a regex
        try:
            jq.compile("test($re)", args={"re": literal.text}).input_value("").first()
        except ValueError as exc:
            messages.append(f"regex {literal.text!r}: {str(exc).strip()}")
    return messages
