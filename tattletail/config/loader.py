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

This module holds the ``Config`` and the entry points, and runs the checks in order; the checks live with
what they check: ``tables`` (TOML reading, keys and types), ``destination_checks``, ``rule_checks`` (jq
programs, regexes, lints) and ``packs`` (rule packs and ``[[include]]``).
"""

from __future__ import annotations

import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tattletail.config import secrets
from tattletail.config.destination_checks import DestinationChecker
from tattletail.config.packs import PackChecker
from tattletail.config.rule_checks import RuleChecker
from tattletail.config.tables import Findings, array, is_pack, read_toml, table_or_none, top_level
from tattletail.correlation import config as correlation_config
from tattletail.correlation.model import Correlation
from tattletail.destinations import Destination
from tattletail.errors import ConfigError
from tattletail.rules import Rule

TOP_LEVEL_KEYS = ("rule", "correlation", "destination", "include")


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


def load(path: str | Path, *, resolve: secrets.Resolver | None = None, sending: bool = False) -> Config:
    """Read and check a configuration file; included packs resolve relative to its directory. With a
    ``resolve``-r, secret references are read; without, only their syntax is checked. ``sending``: the
    caller will deliver, so a destination a rule uses must not be a placeholder."""
    problems: list[str] = []
    data = read_toml(path, problems)
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
    data = read_toml(path, problems)
    if data is None:
        raise ConfigError(problems)
    checker = _Checker(str(path), Path(path).parent)
    rules = checker.packs.pack(data, str(path))
    if checker.findings.problems:
        raise ConfigError(checker.findings.problems)
    return tuple(rules)


def load_rules(path: str | Path) -> tuple[Rule, ...]:
    """The rules of a file that is either a pack or a configuration (with its included packs), read once:
    what ``tattletail test`` runs."""
    return load_definitions(path)[0]


def load_definitions(path: str | Path) -> tuple[tuple[Rule, ...], tuple[Correlation, ...]]:
    """The rules and correlations of a pack or a configuration (with its included packs)."""
    problems: list[str] = []
    data = read_toml(path, problems)
    if data is None:
        raise ConfigError(problems)
    checker = _Checker(str(path), Path(path).parent)
    if is_pack(data):
        rules = checker.packs.pack(data, str(path))
        correlations = checker.packs.pack_correlations.get(str(path), [])
        if checker.findings.problems:
            raise ConfigError(checker.findings.problems)
        return tuple(rules), tuple(correlations)
    config = checker.check(data)
    return config.rules, config.correlations


class _Checker:
    """One configuration's checks, sharing one ``Findings``, one set of destination ids and one namespace
    of rule and correlation names."""

    def __init__(self, source: str, base_dir: Path, resolver: secrets.Resolver | None = None,
                 sending: bool = False) -> None:
        self.source = source
        self.sending = sending
        self.findings = Findings(source)
        self.destinations = DestinationChecker(self.findings, resolver)
        self.rules = RuleChecker(self.findings, self.destinations.targets, set())
        self.packs = PackChecker(self.findings, base_dir, self.rules, self.destinations)

    def check(self, data: dict[str, Any]) -> Config:
        findings, source = self.findings, self.source
        problems = findings.problems
        top_level(data, source, TOP_LEVEL_KEYS, problems)
        destinations = self.destinations.check(array(data, "destination", source, problems))
        rules = [rule for rule in self.rules.check(array(data, "rule", source, problems), source) if rule.enabled]
        for n, table in enumerate(array(data, "include", source, problems), 1):
            rules += self.packs.include(n, table)
        known = {rule.name: rule.origin for rule in rules}
        correlations = self.packs.correlations + correlation_config.check(
            array(data, "correlation", source, problems), source, known, problems,
            lambda targets, where: self.destinations.targets(targets, where, source), table_or_none,
            names=self.rules.names)
        if not rules and not problems:
            findings.warnings.append(f"{source}: no rules: nothing will ever match "
                                     "(add [[rule]] tables or [[include]] a pack from rules/)")
        bases = {name for c in correlations for name in c.rules}  # alert through their correlations
        for rule in rules:
            if not rule.destinations and rule.name not in bases:
                findings.warn(f"rule {rule.name!r}", "no destinations: its matches are shown by run and replay "
                              "but never sent", rule.origin or source)
        used = {d for rule in rules for d in rule.destinations}
        placeholders = self.destinations.placeholders
        for dest_id, why in placeholders.items():
            if dest_id in used and self.sending:
                findings.problem(f"destination {dest_id!r}", f"{why}; it cannot send")
            else:
                findings.warn(f"destination {dest_id!r}", f"{why}; dry runs work, sending does not")
        if problems:
            raise ConfigError(problems, findings.warnings)
        return Config(source, tuple(rules), destinations, tuple(self.destinations.references),
                      tuple(findings.warnings), dict(placeholders), tuple(correlations))
