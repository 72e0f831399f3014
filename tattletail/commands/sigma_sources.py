"""Sigma rules read from files for ``tattletail import sigma``: each file on its own (one that cannot be
loaded is skipped and named, the rest imports), CloudTrail logsources only, corrections from an overrides
file applied before pySigma parses the rule."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any


class Skipped(Exception):
    """A rule that cannot be translated faithfully; the message says why."""


def _pysigma() -> Any:
    try:
        import sigma.collection  # noqa: F401
    except ImportError:
        raise Skipped("pySigma is not installed: pip install 'tattletail[sigma]'") from None
    import sigma

    return sigma


def load(paths: Iterable[str | Path]) -> list[Any]:
    """Every Sigma rule in the given files and directories (``.yml``, ``.yaml``), in path order."""
    rules, _ = load_files(paths)
    return rules


def _files(paths: Iterable[str | Path]) -> list[Path]:
    files: list[Path] = []
    for path in map(Path, paths):
        files += sorted(p for p in path.rglob("*") if p.suffix in (".yml", ".yaml")) if path.is_dir() else [path]
    return files


def load_overrides(path: str | Path) -> dict[str, dict[str, Any]]:
    """Corrections to upstream Sigma rules, by rule id: ``[[override]]`` tables with ``id``, ``title`` (checked,
    so an override never lands on another rule), ``reason`` (required: shown in the pack), and ``detection``
    (YAML replacing the rule's detection, translated like any other) and/or ``enabled = false``."""
    import tomllib

    data = tomllib.loads(Path(path).read_text("utf-8"))
    found: dict[str, dict[str, Any]] = {}
    for n, table in enumerate(data.get("override", []), 1):
        unknown = set(table) - {"id", "title", "reason", "detection", "enabled"}
        if unknown or not all(isinstance(table.get(k), str) and table[k] for k in ("id", "title", "reason")):
            raise ValueError(f"{path}: override[{n}] needs id, title and reason"
                             + (f"; unknown keys {sorted(unknown)}" if unknown else ""))
        if "detection" not in table and table.get("enabled", True):
            raise ValueError(f"{path}: override[{n}] {table['title']!r} changes nothing (detection or enabled = false)")
        found[table["id"]] = table
    return found


def load_files(paths: Iterable[str | Path], overrides: dict[str, dict[str, Any]] | None = None
               ) -> tuple[list[Any], list[tuple[str, str]]]:
    """The CloudTrail Sigma rules of the given files and directories, with ``overrides`` applied, and the
    files or rules skipped with their reasons (unreadable YAML, a rule pySigma rejects, another logsource)."""
    _pysigma()
    import yaml
    from sigma.collection import SigmaCollection

    overrides = overrides or {}
    rules: list[Any] = []
    skipped: list[tuple[str, str]] = []
    loaded: list[Any] = []  # the documents of the files loaded so far, for correlations that name them
    for file in _files(paths):
        try:
            docs = [d for d in yaml.safe_load_all(file.read_text("utf-8")) if d is not None]
            for doc in docs:
                override = overrides.get(str(doc.get("id"))) if isinstance(doc, dict) else None
                if override is not None:
                    if doc.get("title") != override["title"]:
                        raise ValueError(f"override for {override['id']} names title {override['title']!r}, "
                                         f"the rule's is {doc.get('title')!r}")
                    if "detection" in override:
                        doc["detection"] = yaml.safe_load(override["detection"])
            try:
                found = list(SigmaCollection.from_dicts(docs).rules)
            except Exception:
                if not any(isinstance(d, dict) and "correlation" in d for d in docs):
                    raise
                # a correlation naming rules of other files: resolved with every file loaded so far
                titles = {d.get("title") for d in docs if isinstance(d, dict)}
                together = list(SigmaCollection.from_dicts(loaded + docs).rules)
                found = [rule for rule in together if rule.title in titles]
            loaded += docs
        except Exception as exc:  # unreadable file, invalid YAML, pySigma's own errors
            skipped.append((str(file), f"cannot be loaded: {type(exc).__name__}: {exc}"))
            continue
        for rule in found:
            logsource = getattr(rule, "logsource", None)
            if logsource is None:  # a correlation rule: translated over its rules (tattletail.correlation.sigma)
                rule.custom_attributes["tattletail_source"] = str(file)
                rules.append(rule)
                continue
            if (logsource.product, logsource.service) != ("aws", "cloudtrail"):
                skipped.append((f"{file}: {rule.title}", f"logsource is product {logsource.product!r}, service "
                                f"{logsource.service!r}, not CloudTrail (product 'aws', service 'cloudtrail')"))
                continue
            rule.custom_attributes["tattletail_source"] = str(file)
            if str(rule.id) in overrides:
                rule.custom_attributes["tattletail_override"] = overrides[str(rule.id)]
            rules.append(rule)
    return rules, skipped
