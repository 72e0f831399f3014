"""Rule packs and ``[[include]]``: a pack's rules and correlations, bound to a configuration's destinations.

Apart from the rule checks because an include is about composition, not about one rule: finding the
pack (and naming the packs that do exist when it is missing), binding its rules to the include's
destinations, ``enable``/``disable`` lists and severity overrides naming rules of that pack, and the
base rules of a pack's correlations, which alert only through those correlations.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from tattletail.alerts.alert import SEVERITIES
from tattletail.config.destination_checks import DestinationChecker
from tattletail.config.rule_checks import RuleChecker
from tattletail.config.tables import Findings, Spec, array, check_keys, read_toml, table_or_none, top_level
from tattletail.correlation import config as correlation_config
from tattletail.correlation.model import Correlation
from tattletail.rules import Rule

INCLUDE_KEYS: Spec = {
    "path": (str, True),
    "destinations": (list, False),
    "disable": (list, False),
    "enable": (list, False),
    "severity": (dict, False),
}


class PackChecker:
    """Reads packs, alone or included; the correlations of included packs accumulate in ``correlations``."""

    def __init__(self, findings: Findings, base_dir: Path, rules: RuleChecker,
                 destinations: DestinationChecker) -> None:
        self.findings = findings
        self.base_dir = base_dir
        self.rules = rules
        self.destinations = destinations
        self.pack_correlations: dict[str, list[Correlation]] = {}  # pack file -> its correlations
        self.correlations: list[Correlation] = []  # the enabled correlations of included packs, bound

    def pack(self, data: dict[str, Any], source: str) -> list[Rule]:
        """A pack's rules; its correlations (over its own rules) go to ``pack_correlations[source]``."""
        problems = self.findings.problems
        top_level(data, source, ("rule", "correlation"), problems,
                  " (a rule pack holds [[rule]] and [[correlation]] tables only)")
        rules = self.rules.check(array(data, "rule", source, problems), source, in_pack=True)
        known = {rule.name: source for rule in rules}
        self.pack_correlations[source] = correlation_config.check(
            array(data, "correlation", source, problems), source, known, problems,
            lambda targets, where: self.destinations.targets(targets, where, source), table_or_none,
            in_pack=True, names=self.rules.names)
        return rules

    def include(self, n: int, table: Any) -> list[Rule]:
        """A pack's rules bound to destinations, less those disabled, with severities overridden."""
        source = self.findings.source
        problem = self.findings.problem
        where = f"include[{n}]"
        values, ok = check_keys(table, INCLUDE_KEYS, f"{source}: {where}", self.findings.problems)
        if "path" not in values:
            return []
        where = f"include {values['path']!r}"
        path = self.base_dir / values["path"]
        if not path.is_file():
            problem(f"[[include]] {n} path = {values['path']!r}", f"no such pack ({path}); {self._packs_near(path)}")
            return []
        data = read_toml(path, self.findings.problems)
        if data is None:
            return []
        rules = self.pack(data, str(path))
        correlations = self.pack_correlations.get(str(path), [])
        by_name: dict[str, Any] = {rule.name: rule for rule in rules}
        by_name.update({c.name: c for c in correlations})
        targets = self.destinations.targets(values.get("destinations", []), where, source)
        disabled = {rule.name for rule in rules if not rule.enabled}
        for name in values.get("enable", []):
            if name not in by_name:
                problem(where, f"enable names no rule of the pack: {name!r}")
            disabled.discard(name)
        for name in values.get("disable", []):
            if name not in by_name:
                problem(where, f"disable names no rule or correlation of the pack: {name!r}")
            disabled.add(name)
        severities = values.get("severity", {})
        for name, severity in severities.items():
            if name not in by_name:
                problem(where, f"severity names no rule or correlation of the pack: {name!r}")
            elif severity not in SEVERITIES:
                problem(where, f"unknown severity {severity!r} for {name!r} (valid: {', '.join(SEVERITIES)})")
        if targets is None or not ok:
            return []
        for c in correlations:
            for rule in c.rules:
                if rule in disabled and c.name not in disabled:
                    problem(where, f"disable names {rule!r}, a base rule of correlation {c.name!r} "
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
