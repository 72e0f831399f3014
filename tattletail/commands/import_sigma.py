"""Sigma rules -> tattletail rules, translated to jq faithfully (``tattletail import sigma``).

Rules are read with pySigma, the reference implementation (the optional ``sigma`` extra; not a Lambda
dependency), and translated from its parsed condition tree with Sigma's semantics:

- strings compare case-insensitively (ASCII case folded on both sides) unless ``|cased``;
- ``*`` and ``?`` are wildcards (``contains``/``startswith``/``endswith`` are wildcards pySigma adds);
- a value written as a string also matches a JSON boolean or number with the same text (``'true'``),
  and an object or array by its compact JSON text;
- ``re`` is case-sensitive and unanchored, and only accepted where Python and jq's Oniguruma agree;
- ``field: null`` matches an absent or null field; lists are OR, maps AND, ``all`` AND;
- ``1 of`` / ``all of`` / ``not`` / parentheses come resolved in pySigma's tree.

A field that is absent, or cannot be reached (a path through a string), simply does not match.
Anything that cannot be translated faithfully (keywords, ``expand``, aggregations, CIDR, numeric
comparisons, regexes whose meaning differs) raises ``Skipped`` with the reason: never approximated.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from tattletail.alerts.facts import get
from tattletail.jq.compile import regex_agrees

LICENSE = "DRL-1.1"
LICENSE_NOTICE = ("Detection Rule License (DRL) 1.1, https://github.com/SigmaHQ/Detection-Rule-License: "
                  "credit the author when the rule is reproduced or its matches are shown")
LEVELS = {"informational": "info", "low": "low", "medium": "medium", "high": "high", "critical": "critical"}
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_REGEX_META = set(".\\/^$|?*+()[]{}-")


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
    _pysigma()
    from sigma.collection import SigmaCollection

    files: list[Path] = []
    for path in map(Path, paths):
        files += sorted(p for p in path.rglob("*") if p.suffix in (".yml", ".yaml")) if path.is_dir() else [path]
    return list(SigmaCollection.load_ruleset([str(f) for f in files]).rules)


def _fold(text: str) -> str:
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in text)


def _path(field: str) -> str:
    """``a.b`` as ``.a?.b?``: every step optional, so an unreachable field is simply absent."""
    return "".join(f".{k}?" if _IDENT.match(k) else f".[{json.dumps(k)}]?" for k in field.split("."))


def _text(field: str, cased: bool) -> str:
    """The field's text as Sigma compares it: a string (folded unless cased); a boolean or number as its
    JSON text; an object or array as its compact JSON text, as SIEMs that index CloudTrail compare them
    (a rule may search inside ``requestParameters``); null or absent gives nothing, so no match."""
    string, other = (".", "tojson") if cased else ("ascii_downcase", "tojson | ascii_downcase")
    return (f"({_path(field)} | if type == \"string\" then {string} "
            f"elif type == \"null\" then empty else {other} end)")


def _escape(text: str) -> str:
    return "".join("\\" + c if c in _REGEX_META else "\\n" if c == "\n" else c for c in text)


def _string_predicate(value: Any, cased: bool) -> str:
    from sigma.types import SpecialChars

    parts = [p if isinstance(p, str) else p for p in value.s]
    if any(not isinstance(p, str) and p not in (SpecialChars.WILDCARD_MULTI, SpecialChars.WILDCARD_SINGLE)
           for p in parts):
        raise Skipped(f"placeholder in value {value}")
    parts = [(p if cased else _fold(p)) if isinstance(p, str) else p for p in parts]
    multi, single = SpecialChars.WILDCARD_MULTI, SpecialChars.WILDCARD_SINGLE
    literal = [p for p in parts if isinstance(p, str)]
    if not any(p in (multi, single) for p in parts if not isinstance(p, str)):
        return f". == {json.dumps(''.join(literal))}"
    inner = parts[1:-1] if len(parts) >= 2 else []
    if single not in parts and all(isinstance(p, str) for p in inner):
        text = json.dumps("".join(literal))
        starts, ends = parts[0] == multi, parts[-1] == multi
        if parts == [multi]:
            return "true"
        if starts and ends and len(parts) == 3:
            return f"contains({text})"
        if ends and not starts and len(parts) == 2:
            return f"startswith({text})"
        if starts and not ends and len(parts) == 2:
            return f"endswith({text})"
    pattern = "^" + "".join(_escape(p) if isinstance(p, str) else "(?:.|\\n)*" if p == multi else "(?:.|\\n)"
                            for p in parts) + "$"
    if not regex_agrees(pattern):
        raise Skipped(f"wildcard value {value} makes a regular expression outside the portable subset")
    return f"test({json.dumps(pattern)})"


def _leaf(field: str | None, value: Any) -> str:
    from sigma.types import (
        SigmaCasedString,
        SigmaFieldReference,
        SigmaNull,
        SigmaRegularExpression,
        SigmaRegularExpressionFlag,
        SigmaString,
    )

    if field is None:
        raise Skipped("keyword search (a value without a field)")
    if isinstance(value, SigmaNull):
        return f"([{_path(field)}] | length == 0 or .[0] == null)"
    if isinstance(value, SigmaString):
        cased = isinstance(value, SigmaCasedString)
        return f"any({_text(field, cased)}; {_string_predicate(value, cased)})"
    if isinstance(value, SigmaRegularExpression):
        pattern = str(value.regexp)
        flags = set(value.flags)
        if flags - {SigmaRegularExpressionFlag.IGNORECASE}:
            raise Skipped(f"regular expression flags {sorted(f.name for f in flags)}")
        if flags:
            pattern = "(?i)" + pattern
        if not regex_agrees(pattern):
            raise Skipped(f"regular expression {pattern!r} does not mean the same in Python and Oniguruma")
        return f"any({_text(field, cased=True)}; test({json.dumps(pattern)}))"
    if isinstance(value, SigmaFieldReference):
        if value.starts_with or value.ends_with:
            raise Skipped("fieldref combined with startswith/endswith/contains")
        other = value.field
        return f"([{_text(field, False)}, {_text(other, False)}] | length == 2 and .[0] == .[1])"
    raise Skipped(f"{type(value).__name__} values (field {field})")


def translate_condition(node: Any) -> str:
    """pySigma's parsed condition tree as a jq boolean expression."""
    from sigma.conditions import (
        ConditionAND,
        ConditionFieldEqualsValueExpression,
        ConditionNOT,
        ConditionOR,
        ConditionValueExpression,
    )

    if isinstance(node, ConditionAND):
        return "(" + " and ".join(translate_condition(a) for a in node.args) + ")"
    if isinstance(node, ConditionOR):
        return "(" + " or ".join(translate_condition(a) for a in node.args) + ")"
    if isinstance(node, ConditionNOT):
        return f"({translate_condition(node.args[0])} | not)"
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return _leaf(node.field, node.value)
    if isinstance(node, ConditionValueExpression):
        raise Skipped("keyword search (a value without a field)")
    raise Skipped(f"condition element {type(node).__name__}")


def translate(rule: Any) -> str:
    """The rule's ``jq_match``: ``select(...)`` of its condition(s)."""
    try:
        conditions = rule.detection.parsed_condition
        trees = [c.parsed for c in conditions]
    except Skipped:
        raise
    except Exception as exc:  # pySigma: aggregations, unknown identifiers, expand placeholders
        raise Skipped(f"condition cannot be parsed faithfully: {exc}") from None
    expressions = [translate_condition(t) for t in trees]
    body = expressions[0] if len(expressions) == 1 else "(" + " or ".join(expressions) + ")"
    return f"select({body})"


@dataclass
class Imported:
    rule: Any
    jq_match: str


def import_rules(rules: Iterable[Any]) -> tuple[list[Imported], list[tuple[Any, str]]]:
    """Translated rules, and the skipped ones with their reasons."""
    done, skipped = [], []
    for rule in rules:
        try:
            done.append(Imported(rule, translate(rule)))
        except Skipped as exc:
            skipped.append((rule, str(exc)))
    return done, skipped


# ---------------------------------------------------------------- examples for tests


def examples(rule: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """A record the rule's detection selects and a close miss (one value changed), built from the
    detection itself; ``None`` when none could be built. Callers check both against an engine."""
    from tattletail.jq.compile import NOTHING, compile_program, first
    from tattletail.jq.values import JqError
    from tattletail.rules import Rule

    compile_program(translate(rule))  # Unsupported when outside the compiled subset, as before
    program = Rule("example", translate(rule)).python  # values the compiled path cannot judge go to libjq

    def matches(record: dict[str, Any]) -> bool:
        try:
            return first(program, record) is not NOTHING
        except JqError:
            return False

    tree = rule.detection.parsed_condition[0].parsed
    positive: dict[str, Any] = {}
    leaves: list[tuple[str, Any]] = []
    _satisfy(tree, True, positive, leaves)
    if not matches(positive):
        return None
    for field, _value in leaves:  # change one value the match depends on, as little as possible
        current = _get(positive, field)
        for changed in (current + "-x", "x-" + current, current[:-1], "no-match") if isinstance(current, str) else ():
            miss = json.loads(json.dumps(positive))
            _set(miss, field, changed)
            if not matches(miss):
                return positive, miss
    return None


def _get(record: dict[str, Any], field: str) -> Any:
    return get(record, *field.split("."))


def _set(record: dict[str, Any], field: str, value: Any) -> None:
    keys = field.split(".")
    for key in keys[:-1]:
        record = record.setdefault(key, {})
        if not isinstance(record, dict):
            return
    record[keys[-1]] = value


def _sample(value: Any) -> str | None:
    from sigma.types import SigmaRegularExpression, SigmaString, SpecialChars

    if isinstance(value, SigmaString):
        return "".join(p if isinstance(p, str) else ("x" if p == SpecialChars.WILDCARD_MULTI else "y")
                       for p in value.s)
    if isinstance(value, SigmaRegularExpression):
        guess = re.sub(r"\.\+|\.\*", "x", str(value.regexp)).replace("\\", "")
        return guess if re.search(str(value.regexp), guess) else None
    return None


def _satisfy(node: Any, want: bool, record: dict[str, Any], leaves: list[tuple[str, Any]]) -> None:
    from sigma.conditions import ConditionAND, ConditionFieldEqualsValueExpression, ConditionNOT, ConditionOR
    from sigma.types import SigmaFieldReference, SigmaNull

    if isinstance(node, ConditionNOT):
        _satisfy(node.args[0], not want, record, leaves)
    elif isinstance(node, ConditionAND | ConditionOR):
        all_of = isinstance(node, ConditionAND) == want
        for arg in node.args if all_of else node.args[:1]:
            _satisfy(arg, want, record, leaves)
    elif isinstance(node, ConditionFieldEqualsValueExpression):
        field, value = node.field, node.value
        if isinstance(value, SigmaNull):
            if not want:
                _set(record, field, "present")
            return
        if isinstance(value, SigmaFieldReference):
            _set(record, field, "same" if want else "one")
            _set(record, value.field, "same" if want else "other")
            return
        sample = _sample(value)
        if want and sample is not None:
            current = _get(record, field)
            if current is None:
                _set(record, field, sample)
                leaves.append((field, value))
            elif isinstance(current, str):  # several values for one field (|all): hold them all
                _set(record, field, f"{current} {sample}")
        # a leaf that must not match stays absent: an absent field matches no string


def _toml_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _literal(text: str) -> str:
    if "'''" in text:
        return _toml_string(text)
    return "'''\n" + text + "\n'''"


def pack(imported: list[Imported], source: str) -> str:
    """A rule pack (TOML) of translated rules, each with its provenance, the author's credit, the license
    and test cases (a constructed match and a close miss) checked by ``tattletail test``."""
    lines = [
        f"# Sigma rules translated to jq by `tattletail import sigma` from {source}.",
        "# Generated: edit the Sigma rules and run `make sigma` rather than editing this file.",
        f"# License: {LICENSE_NOTICE}.",
        "# Each rule names its author; credit them wherever a rule is reproduced or its matches are shown.",
        "# Test cases are built from each detection (a record it selects, and the same record with one value",
        "# changed) and checked by `tattletail test rules/`.",
    ]
    for item in imported:
        rule = item.rule
        level = rule.level.name.lower() if rule.level else "medium"
        lines += ["", "[[rule]]", f"name = {_toml_string(rule.title)}", f"sigma_id = {_toml_string(str(rule.id))}"]
        description = " ".join((rule.description or rule.title).split())
        lines.append(f"description = {_toml_string(description)}")
        lines.append(f"severity = {_toml_string(LEVELS.get(level, 'medium'))}")
        if rule.author:
            lines.append(f"author = {_toml_string(' '.join(rule.author.split()))}")
        lines.append(f"license = {_toml_string(LICENSE)}")
        if rule.references:
            lines.append("references = [" + ", ".join(_toml_string(r) for r in rule.references) + "]")
        if rule.falsepositives:
            lines.append("falsepositives = [" + ", ".join(_toml_string(str(f)) for f in rule.falsepositives) + "]")
        lines.append(f"jq_match = {_literal(item.jq_match)}")
        built = examples(rule)
        if built is not None:
            positive, miss = built
            lines += ["", "[[rule.test]]", 'name = "a record the detection selects"', "match = true",
                      f"record = {_literal(json.dumps(positive, ensure_ascii=False))}",
                      "", "[[rule.test]]", 'name = "close miss: one value of it changed"', "match = false",
                      f"record = {_literal(json.dumps(miss, ensure_ascii=False))}"]
    return "\n".join(lines) + "\n"


def cmd_import_sigma(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        rules = load(args.paths)
    except Skipped as exc:
        print(f"error: {exc}", file=err)
        return 1
    except Exception as exc:  # pySigma's parse errors name the file
        print(f"error: {exc}", file=err)
        return 1
    imported, skipped = import_rules(rules)
    for rule, reason in skipped:
        print(f"skipped: {rule.title} ({rule.source.path if rule.source else '?'}): {reason}", file=err)
    text = pack(imported, ", ".join(args.paths))
    if args.output:
        with open(args.output, "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        out.write(text)
    print(f"{len(imported)} rules translated, {len(skipped)} skipped"
          + (f", written to {args.output}" if args.output else ""), file=err)
    return 0


def register(sub: Any) -> None:
    imp = sub.add_parser("import", help="import rules from other formats")
    imp_sub = imp.add_subparsers(dest="format_", required=True)
    sig = imp_sub.add_parser("sigma", help="Sigma rules (YAML files or directories) to a rule pack, translated to jq")
    sig.add_argument("paths", nargs="+", metavar="PATH")
    sig.add_argument("-o", "--output", metavar="PACK.toml")
    sig.set_defaults(func=cmd_import_sigma)
