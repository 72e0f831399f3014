"""``[[destination]]`` tables -> ``Destination`` objects, and the check of every reference to them.

Apart from the rule checks because a destination's problems are of another kind: its type's own keys
(``Destination.KEYS``), secret references resolved or only parsed, placeholder addresses (a warning for
dry runs, an error where sending is asked: the loader decides), view settings (timezone, language). The
ids defined here, valid or not, are what rules, includes and correlations may name (``targets``).
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tattletail.alerts.alert import View
from tattletail.alerts.labels import LANGUAGES
from tattletail.config import secrets
from tattletail.config.tables import Findings, Spec, check_keys
from tattletail.destinations import REGISTRY, Destination
from tattletail.errors import SecretError

DESTINATION_COMMON_KEYS: Spec = {
    "id": (str, True),
    "type": (str, True),
    "timezone": (str, False),
    "language": (str, False),
    "digest_threshold": (int, False),
}


class DestinationChecker:
    """Checks the destinations of one configuration; keeps what the rest of the loader needs of them."""

    def __init__(self, findings: Findings, resolver: secrets.Resolver | None = None) -> None:
        self.findings = findings
        self.resolver = resolver
        self.defined: list[str] = []  # every destination id, valid or not, in file order
        self.references: list[tuple[str, str, secrets.Reference]] = []  # (destination id, key, reference)
        self.placeholders: dict[str, str] = {}  # destination id -> why it cannot send

    def targets(self, targets: list[Any], where: str, source: str) -> tuple[str, ...] | None:
        """Destination ids, each defined; ``None`` when one is not."""
        ok = True
        defined = ", ".join(f'"{d}"' for d in self.defined) or "none"
        for target in targets:
            if not isinstance(target, str):
                self.findings.problem(where, f"destinations must be a list of strings, found {target!r}", source)
                ok = False
            elif target not in self.defined:
                self.findings.problem(where, f"unknown destination {target!r} (defined: {defined})", source)
                ok = False
        return tuple(targets) if ok else None

    def check(self, tables: list[Any]) -> dict[str, Destination]:
        """The valid destinations by id; every problem of the others is reported."""
        found: dict[str, Destination] = {}
        source = self.findings.source
        for n, table in enumerate(tables, 1):
            where = f"destination[{n}]"
            if isinstance(table, dict) and isinstance(table.get("id"), str):
                where += f" {table['id']!r}"
                if table["id"] in self.defined:
                    self.findings.problem(where, "duplicate destination id")
                    continue
                self.defined.append(table["id"])
            kind = table.get("type") if isinstance(table, dict) else None
            cls = REGISTRY.get(kind) if isinstance(kind, str) else None
            if isinstance(kind, str) and cls is None:
                self.findings.problem(where, f"unknown type {kind!r} (valid: {', '.join(sorted(REGISTRY))})")
                continue
            spec = {**DESTINATION_COMMON_KEYS, **(cls.KEYS if cls else {})}
            note = f" for type {kind!r}" if cls else ""
            values, ok = check_keys(table, spec, f"{source}: {where}", self.findings.problems, note)
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
            view = _view(values, problems)
            threshold = values.get("digest_threshold", Destination.DIGEST_THRESHOLD)
            if threshold < 0:
                problems.append(f"digest_threshold must be 0 (never digest) or more, not {threshold}")
            for message in problems:
                self.findings.problem(where, message)
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


def _view(values: dict[str, Any], problems: list[str]) -> View | None:
    timezone, language = values.get("timezone", "UTC"), values.get("language", "en")
    if language not in LANGUAGES:
        problems.append(f"unknown language {language!r} (valid: {', '.join(LANGUAGES)})")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"unknown timezone {timezone!r} (an IANA name such as 'Asia/Tokyo' or 'UTC')")
    return View(timezone, language) if not problems else None
