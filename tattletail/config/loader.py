"""``tattletail.toml`` -> a checked, frozen ``Config``.

The format is the Go tool cloudtrail-tattletail's (``[[rule]]`` and ``[[destination]]`` tables), so
its users' files load unchanged. Everything is checked here, when the config loads, never at send
time: TOML syntax, unknown and missing keys, types, destination types, duplicate ids, references
from rules to destinations, destination values (ARNs, email lists, URLs) and every jq program.
All problems are collected and raised together in one ``ConfigError``, each naming the file and
the rule or destination it concerns; a mistyped key does not hide the problems of the rest of its table.

Some things are not errors but deserve a word (``Config.warnings``, printed by ``check`` and ``run``): a
rule reading ``.Records`` (a rule sees one record), one matching every record, one with no destination,
a config with no rules, and a destination whose address is a placeholder (the Go tool's documented
``webhook_url = "___YOUR_SLACK_WEBHOOK___"``). A placeholder lets dry runs work; it is an error only where
sending is asked (``load(..., sending=True)``: ``run --send``, ``redrive``, the Lambda).
"""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jq

from tattletail import guard
from tattletail.alerts.alert import SEVERITIES, View
from tattletail.alerts.labels import LANGUAGES
from tattletail.config import secrets
from tattletail.correlation import config as correlation_config
from tattletail.correlation.model import Correlation
from tattletail.destinations import REGISTRY, Destination
from tattletail.errors import ConfigError, SecretError
from tattletail.jq.parse import Unsupported, tokenize
from tattletail.rules import Rule, compile_jq

RULE_KEYS: dict[str, tuple[type, bool]] = {
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
INCLUDE_KEYS: dict[str, tuple[type, bool]] = {
    "path": (str, True),
    "destinations": (list, False),
    "disable": (list, False),
    "enable": (list, False),
    "severity": (dict, False),
}
TEST_KEYS: dict[str, tuple[type, bool]] = {
    "name": (str, False),
    "match": (bool, True),
    "annotation": (object, False),
    "record": (str, False),
    "file": (str, False),
}
DESTINATION_COMMON_KEYS: dict[str, tuple[type, bool]] = {
    "id": (str, True),
    "type": (str, True),
    "timezone": (str, False),
    "language": (str, False),
    "digest_threshold": (int, False),
}
TOP_LEVEL_KEYS = ("rule", "correlation", "destination", "include")
_TYPE_NAMES = {str: "a string", list: "an array", bool: "a boolean", int: "an integer", dict: "a table",
               float: "a float"}
REGEX_FUNCTIONS = {"test", "match", "capture", "scan", "split", "splits", "sub", "gsub"}
MATCHES_EVERYTHING = {"true", ".", "select(true)", "select(.)", "select(. != null)"}


def toml_type(value: Any) -> str:
    """The TOML name of a parsed value's type, as a user wrote it (not Python's ``str``, ``dict``)."""
    for kind, name in ((bool, "boolean"), (int, "integer"), (float, "float"), (str, "string"), (list, "array"),
                       (dict, "table"), (datetime, "datetime"), (date, "date"), (time, "time")):
        if isinstance(value, kind):
            return name
    return type(value).__name__


@dataclass(frozen=True)
class Config:
    """A loaded configuration: rules in file order, destinations by id."""

    source: str
    rules: tuple[Rule, ...]
    destinations: dict[str, Destination] = field(default_factory=dict)
    references: tuple[tuple[str, str, secrets.Reference], ...] = ()  # (destination id, key, reference)
    warnings: tuple[str, ...] = ()
    placeholders: dict[str, str] = field(default_factory=dict)  # destination id -> why it cannot send
    correlations: tuple[Correlation, ...] = ()   # [[correlation]]: see tattletail.correlation

    def summary(self) -> str:
        kinds = Counter(d.type for d in self.destinations.values())
        detail = ", ".join(f"{kind} {n}" for kind, n in sorted(kinds.items()))
        correlations = f", {len(self.correlations)} correlations" if self.correlations else ""
        return (f"{self.source}: OK, {len(self.rules)} rules{correlations}, {len(self.destinations)} destinations"
                + (f" ({detail})" if detail else ""))

    def destinations_of(self, rule: Rule) -> list[Destination]:
        return [self.destinations[d] for d in rule.destinations]


def _read_toml(path: str | Path, problems: list[str]) -> dict[str, Any] | None:
    source = str(path)
    try:
        return tomllib.loads(Path(path).read_bytes().decode("utf-8-sig"))  # a BOM (Notepad) is not an error
    except OSError as exc:
        problems.append(f"{source}: cannot read: {exc.strerror or exc}")
    except UnicodeDecodeError as exc:
        problems.append(f"{source}: not UTF-8 text: {exc}")
    except tomllib.TOMLDecodeError as exc:
        problems.append(f"{source}: invalid TOML: {exc}")
    return None


def load(path: str | Path, *, resolve: secrets.Resolver | None = None, sending: bool = False) -> Config:
    """Read and check a configuration file; included packs resolve relative to its directory. With a
    ``resolve``-r, secret references are read; without, only their syntax is checked. ``sending``: the
    caller will deliver, so a destination a rule uses must not be a placeholder."""
    problems: list[str] = []
    data = _read_toml(path, problems)
    if data is None:
        raise ConfigError(problems)
    return _Checker(str(path), Path(path).parent, resolve, sending).check(data)


def loads(text: str, source: str = "tattletail.toml", base_dir: str | Path = ".", *,
          resolve: secrets.Resolver | None = None, sending: bool = False) -> Config:
    """Parse and check configuration text; ``source`` names it in error messages and included packs
    resolve relative to ``base_dir``."""
    try:
        data = tomllib.loads(text.removeprefix("\ufeff"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{source}: invalid TOML: {exc}"]) from None
    return _Checker(source, Path(base_dir), resolve, sending).check(data)


def load_pack(path: str | Path) -> tuple[Rule, ...]:
    """The rules of a rule pack (a file of ``[[rule]]`` only), unbound to any destination."""
    problems: list[str] = []
    data = _read_toml(path, problems)
    if data is None:
        raise ConfigError(problems)
    checker = _Checker(str(path), Path(path).parent)
    rules = checker.pack(data, str(path))
    if checker.problems:
        raise ConfigError(checker.problems)
    return tuple(rules)


def load_rules(path: str | Path) -> tuple[Rule, ...]:
    """The rules of a file that is either a pack or a configuration (with its included packs), read once:
    what ``tattletail test`` runs."""
    return load_definitions(path)[0]


def load_definitions(path: str | Path) -> tuple[tuple[Rule, ...], tuple[Correlation, ...]]:
    """The rules and correlations of a pack or a configuration (with its included packs)."""
    problems: list[str] = []
    data = _read_toml(path, problems)
    if data is None:
        raise ConfigError(problems)
    checker = _Checker(str(path), Path(path).parent)
    if is_pack(data):
        rules = checker.pack(data, str(path))
        correlations = checker.pack_correlations.get(str(path), [])
        if checker.problems:
            raise ConfigError(checker.problems)
        return tuple(rules), tuple(correlations)
    config = checker.check(data)
    return config.rules, config.correlations


def is_pack(data: dict[str, Any]) -> bool:
    """A pack holds rules only; a configuration also has destinations or includes."""
    return "rule" in data and not ({"destination", "include"} & set(data))


def _table_or_none(table: Any, spec: dict[str, tuple[type, bool]], where: str, problems: list[str],
                   extra_note: str = "") -> dict[str, Any] | None:
    """``_check_keys`` for a checker that goes on only with a whole table (the correlation checker)."""
    values, ok = _check_keys(table, spec, where, problems, extra_note)
    return values if ok else None


def _check_keys(table: Any, spec: dict[str, tuple[type, bool]], where: str, problems: list[str],
                extra_note: str = "") -> tuple[dict[str, Any], bool]:
    """The table's known values of the right type, and whether every required key is there with the
    right type. Unknown, missing and mistyped keys are reported; the values that are fine are still
    returned, so the caller checks them too and every problem is reported at once."""
    if not isinstance(table, dict):
        problems.append(f"{where}: must be a table, not {toml_type(table)}")
        return {}, False
    ok = True
    for key in table:
        if key not in spec:
            valid = ", ".join(sorted(spec))
            problems.append(f"{where}: unknown key {key!r}{extra_note} (valid: {valid})")
    values: dict[str, Any] = {}
    for key, (kind, required) in spec.items():
        if key not in table:
            if required:
                problems.append(f"{where}: missing key {key!r}")
                ok = False
        elif not _is_type(table[key], kind):
            problems.append(f"{where}: {key!r} must be {_TYPE_NAMES.get(kind, kind.__name__)}, "
                            f"not {toml_type(table[key])}")
            ok = False
        else:
            values[key] = table[key]
    return values, ok


def _is_type(value: Any, kind: type) -> bool:
    """TOML's types as Python's: booleans are not numbers, and a float setting takes an integer."""
    if isinstance(value, bool):
        return kind in (bool, object)
    return isinstance(value, kind) or (kind is float and isinstance(value, int))


class _Checker:
    def __init__(self, source: str, base_dir: Path, resolver: secrets.Resolver | None = None,
                 sending: bool = False) -> None:
        self.source = source
        self.base_dir = base_dir
        self.resolver = resolver
        self.sending = sending
        self.references: list[tuple[str, str, secrets.Reference]] = []
        self.problems: list[str] = []
        self.warnings: list[str] = []
        self.placeholders: dict[str, str] = {}
        self.defined: list[str] = []  # every destination id, valid or not, in file order
        self.names: set[str] = set()  # rule (and correlation) names across the config and its packs
        self.pack_correlations: dict[str, list[Correlation]] = {}  # pack file -> its correlations
        self.correlations: list[Correlation] = []

    def problem(self, where: str, message: str, source: str | None = None) -> None:
        self.problems.append(f"{source or self.source}: {where}: {message}")

    def warn(self, where: str, message: str, source: str | None = None) -> None:
        self.warnings.append(f"{source or self.source}: {where}: {message}")

    def check(self, data: dict[str, Any]) -> Config:
        self._top_level(data, self.source, TOP_LEVEL_KEYS)
        destinations = self._destinations(self._array(data, "destination", self.source))
        rules = [rule for rule in self._rules(self._array(data, "rule", self.source), self.source) if rule.enabled]
        for n, table in enumerate(self._array(data, "include", self.source), 1):
            rules += self._include(n, table)
        known = {rule.name: rule.origin for rule in rules}
        self.correlations += correlation_config.check(
            self._array(data, "correlation", self.source), self.source, known, self.problems,
            lambda targets, where: self._targets(targets, where, self.source), _table_or_none, names=self.names)
        if not rules and not self.problems:
            self.warnings.append(f"{self.source}: no rules: nothing will ever match "
                                 "(add [[rule]] tables or [[include]] a pack from rules/)")
        bases = {name for c in self.correlations for name in c.rules}  # alert through their correlations
        for rule in rules:
            if not rule.destinations and rule.name not in bases:
                self.warn(f"rule {rule.name!r}", "no destinations: its matches are shown by run and replay "
                          "but never sent", rule.origin or self.source)
        used = {d for rule in rules for d in rule.destinations}
        for dest_id, why in self.placeholders.items():
            if dest_id in used and self.sending:
                self.problem(f"destination {dest_id!r}", f"{why}; it cannot send")
            else:
                self.warn(f"destination {dest_id!r}", f"{why}; dry runs work, sending does not")
        if self.problems:
            raise ConfigError(self.problems)
        return Config(self.source, tuple(rules), destinations, tuple(self.references), tuple(self.warnings),
                      dict(self.placeholders), tuple(self.correlations))

    def pack(self, data: dict[str, Any], source: str) -> list[Rule]:
        """A pack's rules; its correlations (over its own rules) go to ``pack_correlations[source]``."""
        self._top_level(data, source, ("rule", "correlation"),
                        " (a rule pack holds [[rule]] and [[correlation]] tables only)")
        rules = self._rules(self._array(data, "rule", source), source, in_pack=True)
        known = {rule.name: source for rule in rules}
        self.pack_correlations[source] = correlation_config.check(
            self._array(data, "correlation", source), source, known, self.problems,
            lambda targets, where: self._targets(targets, where, source), _table_or_none, in_pack=True,
            names=self.names)
        return rules

    def _top_level(self, data: dict[str, Any], source: str, valid: tuple[str, ...], note: str = "") -> None:
        for key in data:
            if key not in valid:
                self.problems.append(f"{source}: unknown top-level key {key!r} "
                                     f"(valid: {', '.join(f'[[{k}]]' for k in valid)}){note}")

    def _array(self, data: dict[str, Any], key: str, source: str) -> list[Any]:
        value = data.get(key, [])
        if not isinstance(value, list):
            self.problems.append(f"{source}: {key!r} must be an array of tables ([[{key}]])")
            return []
        return value

    def _include(self, n: int, table: Any) -> list[Rule]:
        """A pack's rules bound to destinations, less those disabled, with severities overridden."""
        where = f"include[{n}]"
        values, ok = _check_keys(table, INCLUDE_KEYS, f"{self.source}: {where}", self.problems)
        if "path" not in values:
            return []
        where = f"include {values['path']!r}"
        path = self.base_dir / values["path"]
        if not path.is_file():
            self.problem(f"[[include]] {n} path = {values['path']!r}",
                         f"no such pack ({path}); {self._packs_near(path)}")
            return []
        data = _read_toml(path, self.problems)
        if data is None:
            return []
        rules = self.pack(data, str(path))
        correlations = self.pack_correlations.get(str(path), [])
        by_name: dict[str, Any] = {rule.name: rule for rule in rules}
        by_name.update({c.name: c for c in correlations})
        targets = self._targets(values.get("destinations", []), where, self.source)
        disabled = {rule.name for rule in rules if not rule.enabled}
        for name in values.get("enable", []):
            if name not in by_name:
                self.problem(where, f"enable names no rule of the pack: {name!r}")
            disabled.discard(name)
        for name in values.get("disable", []):
            if name not in by_name:
                self.problem(where, f"disable names no rule or correlation of the pack: {name!r}")
            disabled.add(name)
        severities = values.get("severity", {})
        for name, severity in severities.items():
            if name not in by_name:
                self.problem(where, f"severity names no rule or correlation of the pack: {name!r}")
            elif severity not in SEVERITIES:
                self.problem(where, f"unknown severity {severity!r} for {name!r} (valid: {', '.join(SEVERITIES)})")
        if targets is None or not ok:
            return []
        for c in correlations:
            for rule in c.rules:
                if rule in disabled and c.name not in disabled:
                    self.problem(where, f"disable names {rule!r}, a base rule of correlation {c.name!r} "
                                        f"(disable the correlation too)")
        # a base rule of the pack's correlations is a building block: it alerts only through them
        bases = {r for c in correlations if c.name not in disabled for r in c.rules}
        self.correlations += [
            replace(c, alert_rule=replace(c.alert_rule, destinations=targets,
                                          severity=severities.get(c.name, c.alert_rule.severity)))
            for c in correlations if c.name not in disabled]
        return [replace(rule, destinations=() if rule.name in bases else targets,
                        severity=severities.get(rule.name, rule.severity))
                for rule in rules if rule.name not in disabled]

    def _packs_near(self, path: Path) -> str:
        """The packs that do exist where an include looked (or in the config's rules/), to pick from."""
        for folder in (path.parent, self.base_dir / "rules"):
            if folder.is_dir():
                packs = sorted(p.name for p in folder.glob("*.toml"))
                if packs:
                    return f"packs in {folder}: {', '.join(packs)}"
        return f"no packs in {path.parent}"

    def _targets(self, targets: list[Any], where: str, source: str) -> tuple[str, ...] | None:
        """Destination ids, each defined; ``None`` when one is not."""
        ok = True
        defined = ", ".join(f'"{d}"' for d in self.defined) or "none"
        for target in targets:
            if not isinstance(target, str):
                self.problem(where, f"destinations must be a list of strings, found {target!r}", source)
                ok = False
            elif target not in self.defined:
                self.problem(where, f"unknown destination {target!r} (defined: {defined})", source)
                ok = False
        return tuple(targets) if ok else None

    def _destinations(self, tables: list[Any]) -> dict[str, Destination]:
        found: dict[str, Destination] = {}
        for n, table in enumerate(tables, 1):
            where = f"destination[{n}]"
            if isinstance(table, dict) and isinstance(table.get("id"), str):
                where += f" {table['id']!r}"
                if table["id"] in self.defined:
                    self.problem(where, "duplicate destination id")
                    continue
                self.defined.append(table["id"])
            kind = table.get("type") if isinstance(table, dict) else None
            cls = REGISTRY.get(kind) if isinstance(kind, str) else None
            if isinstance(kind, str) and cls is None:
                self.problem(where, f"unknown type {kind!r} (valid: {', '.join(sorted(REGISTRY))})")
                continue
            spec = {**DESTINATION_COMMON_KEYS, **(cls.KEYS if cls else {})}
            note = f" for type {kind!r}" if cls else ""
            values, ok = _check_keys(table, spec, f"{self.source}: {where}", self.problems, note)
            if cls is None or any(required and key not in values for key, (_, required) in spec.items()):
                continue
            options = {k: v for k, v in values.items() if k not in DESTINATION_COMMON_KEYS}
            problems: list[str] = []
            resolved: dict[str, str] = {}
            unresolved = self._secrets(values["id"], options, problems, resolved)
            placeholder = cls.placeholder(options, unresolved)
            if placeholder:
                self.placeholders[values["id"]] = secrets.hide("; ".join(placeholder.values()), resolved)
            problems += [secrets.hide(problem, resolved)
                         for problem in cls.validate(options, set(unresolved) | set(placeholder))]
            view = self._view(values, problems)
            threshold = values.get("digest_threshold", Destination.DIGEST_THRESHOLD)
            if threshold < 0:
                problems.append(f"digest_threshold must be 0 (never digest) or more, not {threshold}")
            for message in problems:
                self.problem(where, message)
            if ok and not problems and view is not None:
                found[values["id"]] = cls(values["id"], **options, view=view, digest_threshold=threshold)
        return found

    def _secrets(self, dest_id: str, options: dict[str, Any], problems: list[str],
                 found: dict[str, str]) -> set[str]:
        """Replace secret references in ``options`` by their values when resolving (noting each value's
        reference in ``found``); return the keys still holding an unresolved reference (their values
        cannot be checked yet)."""
        unresolved: set[str] = set()
        for key, value in options.items():
            items = value if isinstance(value, list) else [value]
            resolved = []
            for item in items:
                try:
                    ref = secrets.parse(item)
                except SecretError as exc:
                    problems.append(f"{key}: {exc}")
                    resolved.append(item)
                    continue
                if ref is None:
                    resolved.append(item)
                    continue
                self.references.append((dest_id, key, ref))
                if self.resolver is None:
                    unresolved.add(key)
                    resolved.append(item)
                    continue
                try:
                    secret = self.resolver.resolve(ref)
                    resolved.append(secret)
                    found[secret] = str(ref)
                except SecretError as exc:
                    problems.append(f"{key}: {exc}")
                    unresolved.add(key)  # reported once: its value cannot be checked
                    resolved.append(item)
            options[key] = resolved if isinstance(value, list) else resolved[0]
        return unresolved

    @staticmethod
    def _view(values: dict[str, Any], problems: list[str]) -> View | None:
        timezone, language = values.get("timezone", "UTC"), values.get("language", "en")
        if language not in LANGUAGES:
            problems.append(f"unknown language {language!r} (valid: {', '.join(LANGUAGES)})")
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(f"unknown timezone {timezone!r} (an IANA name such as 'Asia/Tokyo' or 'UTC')")
        return View(timezone, language) if not problems else None

    def _rules(self, tables: list[Any], source: str, in_pack: bool = False) -> list[Rule]:
        rules: list[Rule] = []
        for n, table in enumerate(tables, 1):
            where = f"rule[{n}]"
            if isinstance(table, dict) and isinstance(table.get("name"), str):
                where = f"rule {table['name']!r}"
                if table["name"] in self.names:
                    self.problem(where, "duplicate rule name", source)
                self.names.add(table["name"])
            if in_pack and isinstance(table, dict) and "destinations" in table:
                self.problem(where, "a rule pack names no destinations: bind them in the config's [[include]]",
                             source)
                continue
            values, ok = _check_keys(table, RULE_KEYS, f"{source}: {where}", self.problems)
            if not values and not ok:
                continue
            targets = self._targets(values.get("destinations", []), where, source)
            ok = targets is not None and ok
            jq_match = values.get("jq_match")
            if isinstance(jq_match, str) and not jq_match.strip():
                self.problem(where, "jq_match is empty", source)
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
                        self.problem(where, f"invalid {key}: {exc}", source)
                        ok = False
                        continue
                    ok = self._bounded(key, program, where, source) and ok
                    for message in bad_regexes(program):
                        self.problem(where, f"invalid {key}: {message}", source)
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
            self.problem(where, f"{key} can never end: {problem}", source)
        return not found

    def _lint(self, jq_match: str, where: str, source: str) -> None:
        """Warnings for a rule that is valid but surely not what was meant."""
        if re.search(r"\.Records\b", jq_match):
            self.warn(where, "jq_match reads .Records, but a rule sees one record at a time (write "
                      "select(.eventName == ...), not .Records[] | select(...))", source)
        if " ".join(jq_match.split()) in MATCHES_EVERYTHING:
            self.warn(where, f"jq_match {jq_match.strip()!r} matches every record", source)

    def _tests(self, tests: list[Any], where: str, source: str) -> bool:
        """Check the shape of a rule's test cases (their records are read by ``tattletail test``)."""
        ok = True
        for n, test in enumerate(tests, 1):
            values, fine = _check_keys(test, TEST_KEYS, f"{source}: {where}: test[{n}]", self.problems)
            if not fine:
                ok = False
            elif ("record" in values) == ("file" in values):
                self.problem(where, f"test[{n}] needs exactly one of 'record' (JSON text) or 'file'", source)
                ok = False
        return ok

    def _presentation(self, values: dict[str, Any], where: str, source: str) -> bool:
        """Check the rule's optional presentation keys; False when one is invalid."""
        ok = True
        severity = values.get("severity")
        if severity is not None and severity not in SEVERITIES:
            self.problem(where, f"unknown severity {severity!r} (valid: {', '.join(SEVERITIES)})", source)
            ok = False
        for label, program in values.get("fields", {}).items():
            if not isinstance(program, str):
                self.problem(where, f"fields.{label} must be a jq program (a string), not {toml_type(program)}",
                             source)
                ok = False
        runbook = values.get("runbook")
        if runbook is not None and not runbook.startswith(("https://", "http://")):
            self.problem(where, f"runbook is not an http(s) URL: {runbook!r}", source)
            ok = False
        for reference in values.get("references", []):
            if not isinstance(reference, str):
                self.problem(where, f"references must be a list of strings, found {reference!r}", source)
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
