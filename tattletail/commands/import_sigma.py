"""Sigma rules -> tattletail rules, translated to jq faithfully (``tattletail import sigma``).

Rules are read with pySigma, the reference implementation (the optional ``sigma`` extra; not a Lambda
dependency), and translated from its parsed condition tree with Sigma's semantics:

- strings compare case-insensitively (ASCII case folded on both sides) unless ``|cased``;
- ``*`` and ``?`` are wildcards (``contains``/``startswith``/``endswith`` are wildcards pySigma adds);
- a value written as a string also matches a JSON boolean or number with the same text (``'true'``),
  and an object or array by its compact JSON text;
- ``re`` is case-sensitive and unanchored, and only accepted where Python and jq's Oniguruma agree;
  its ``i``, ``m`` (``^``/``$`` at line ends) and ``s`` (``.`` matches a newline) flags become the
  inline flags ``(?i)``, ``(?m)``, ``(?s)``, which mean the same in both;
- ``field: null`` matches an absent or null field; lists are OR, maps AND, ``all`` AND;
- ``exists: true`` matches a field present with a non-null value (``false``: absent or null);
- ``lt``/``lte``/``gt``/``gte`` compare numbers: a JSON number, or a string holding a decimal number
  (CloudTrail writes some numbers as strings); anything else does not match;
- ``cidr`` matches an IPv4 or IPv6 address (any textual form: ``::`` compressed, leading zeros, upper
  case) inside the network, through ``CIDR_HELPER``, one jq definition shared by every rule that uses
  it (a ``def``: such rules run in libjq, the compiled subset has no ``def``);
- ``windash``, ``base64offset`` and other expansions are OR of the values pySigma expands them to;
- ``1 of`` / ``all of`` / ``not`` / parentheses come resolved in pySigma's tree.

Field paths through lists match any element, as SIEM backends do: ``a.b`` reaches ``a[i].b`` for every
element of a list ``a``, and a list reached at the end of the path matches if any of its elements does
(so ``requestParameters.containerDefinitions.command`` reaches every command of every container).
Under ``not`` this reads "no element matches", so a filter on such a path is dodged by a record that adds
one excused element (documented in the README's Sigma section; kept, as it is Sigma's meaning).
A field that is absent, or cannot be reached (a path through a string), simply does not match.
Anything that cannot be translated faithfully (keywords, ``expand`` placeholders, aggregations, regexes
whose meaning differs) raises ``Skipped`` with the reason: never approximated.

Only CloudTrail rules are imported (logsource product ``aws``, service ``cloudtrail``); a file that
cannot be read or parsed is skipped and named with its reason, and the rest imports. Corrections to
upstream rules live in an overrides file (``--overrides``, see ``load_overrides``) applied at each import,
so a re-import keeps them.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TextIO

from tattletail.commands.common import write_file
from tattletail.commands.sigma_examples import examples
from tattletail.commands.sigma_sources import Skipped, load, load_files, load_overrides
from tattletail.jq.regex import regex_agrees

__all__ = ["CIDR_HELPER", "Skipped", "cmd_import_sigma", "examples", "import_rules", "load", "load_files",
           "load_overrides", "pack", "register", "translate", "translate_condition"]

LICENSE = "DRL-1.1"
LICENSE_NOTICE = ("Detection Rule License (DRL) 1.1, https://github.com/SigmaHQ/Detection-Rule-License: "
                  "credit the author when the rule is reproduced or its matches are shown")
LEVELS = {"informational": "info", "low": "low", "medium": "medium", "high": "high", "critical": "critical"}
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_REGEX_META = set(".\\/^$|?*+()[]{}-")


def _fold(text: str) -> str:
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in text)


_EACH = '(if type == "array" then .[] else . end)'


def _path(field: str) -> str:
    """``a.b`` as every value it reaches: each step optional (an unreachable field is simply absent) and
    each list on the way, or at the end, stood for by its elements."""
    return " | ".join((f".{k}?" if _IDENT.match(k) else f".[{json.dumps(k)}]?") + f" | {_EACH}"
                      for k in field.split("."))


# IPv4 and IPv6 addresses as bit strings, so a CIDR test is a ``startswith`` on the network's prefix bits.
# Anything that is not an address in one of the standard textual forms gives null (no match).
CIDR_HELPER = (
    'def _tt_bits($n; $w): [range($w - 1; -1; -1) as $i | (($n / pow(2; $i)) | floor) % 2 | tostring] | join("");'
    ' def _tt_hex: ascii_downcase | explode'
    ' | reduce .[] as $c (0; . * 16 + (if $c >= 97 then $c - 87 else $c - 48 end));'
    ' def _tt_ip_bits: if type != "string" then null'
    ' elif test("^[0-9]{1,3}([.][0-9]{1,3}){3}$") then (split(".") | map(tonumber)'
    ' | if all(.[]; . <= 255) then map(_tt_bits(.; 8)) | "4" + join("") else null end)'
    ' elif test("^[0-9A-Fa-f:]+$") and test(":") and ((. / "::") | length) <= 2 then'
    ' ((. / "::") | map(if . == "" then [] else split(":") end)'
    ' | if length == 1 then .[0] elif (.[0] | length) + (.[1] | length) > 7 then []'
    ' else .[0] + [range(8 - (.[0] | length) - (.[1] | length)) | "0"] + .[1] end)'
    ' | if length == 8 and all(.[]; test("^[0-9A-Fa-f]{1,4}$")) then map(_tt_hex | _tt_bits(.; 16)) | "6" + join("")'
    ' else null end else null end;'
)


def _cidr_bits(network: Any) -> str:
    """The prefix a CIDR network's addresses start with, in ``_tt_ip_bits`` form."""
    bits = format(int(network.network_address), f"0{network.max_prefixlen}b")
    return ("4" if network.version == 4 else "6") + bits[:network.prefixlen]


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
        SigmaCIDRExpression,
        SigmaCompareExpression,
        SigmaExists,
        SigmaExpansion,
        SigmaFieldReference,
        SigmaNull,
        SigmaRegularExpression,
        SigmaRegularExpressionFlag,
        SigmaString,
    )

    if field is None:
        raise Skipped("keyword search (a value without a field)")
    if isinstance(value, SigmaNull):
        return f"([{_path(field)}] | all(.[]; . == null))"
    if isinstance(value, SigmaExists):
        present = f"any({_path(field)}; . != null)"
        return present if value.exists else f"({present} | not)"
    if isinstance(value, SigmaExpansion):
        return "(" + " or ".join(_leaf(field, v) for v in value.values) + ")"
    if isinstance(value, SigmaCompareExpression):
        op = {value.CompareOperators.LT: "<", value.CompareOperators.LTE: "<=", value.CompareOperators.GT: ">",
              value.CompareOperators.GTE: ">="}[value.op]
        number = json.dumps(value.number.number)
        return (f'any({_path(field)} | if type == "number" then . elif type == "string" and '
                f'test("^-?[0-9]+([.][0-9]+)?$") then tonumber else empty end; . {op} {number})')
    if isinstance(value, SigmaCIDRExpression):
        prefix = json.dumps(_cidr_bits(value.network))
        return f'any({_path(field)} | _tt_ip_bits; type == "string" and startswith({prefix}))'
    if isinstance(value, SigmaString):
        cased = isinstance(value, SigmaCasedString)
        return f"any({_text(field, cased)}; {_string_predicate(value, cased)})"
    if isinstance(value, SigmaRegularExpression):
        pattern = str(value.regexp)
        flags = set(value.flags)
        inline = {SigmaRegularExpressionFlag.IGNORECASE: "i", SigmaRegularExpressionFlag.MULTILINE: "m",
                  SigmaRegularExpressionFlag.DOTALL: "s"}
        if flags - set(inline):
            raise Skipped(f"regular expression flags {sorted(f.name for f in flags)}")
        letters = "".join(inline[f] for f in inline if f in flags)
        if not regex_agrees("(?i)" + pattern if letters else pattern):
            raise Skipped(f"regular expression {pattern!r} does not mean the same in Python and Oniguruma")
        if letters:
            pattern = f"(?{letters})" + pattern
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
    helper = CIDR_HELPER + "\n" if "_tt_ip_bits" in body else ""
    return f"{helper}select({body})"


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
        override = rule.custom_attributes.get("tattletail_override")
        if override is not None:
            enabled = override.get("enabled", True)
            note = "Shipped off" if not enabled else "Corrected here (sigma-overrides.toml)"
            description += f" {note}: {' '.join(override['reason'].split())}"
            if not enabled:
                lines.append("enabled = false")
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
        try:  # example records are checked against the compiled path, which some helpers (def) are not in
            built = examples(rule, translate(rule))
        except Exception:  # no example cases for this rule: the pack still imports it, with its reason shown
            built = None
        if built is not None:
            positive, miss = built
            lines += ["", "[[rule.test]]", 'name = "a record the detection selects"', "match = true",
                      f"record = {_literal(json.dumps(positive, ensure_ascii=False))}",
                      "", "[[rule.test]]", 'name = "close miss: one value of it changed"', "match = false",
                      f"record = {_literal(json.dumps(miss, ensure_ascii=False))}"]
    return "\n".join(lines) + "\n"


def cmd_import_sigma(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        overrides = load_overrides(args.overrides) if args.overrides else {}
        rules, unloaded = load_files(args.paths, overrides)
    except (Skipped, OSError, ValueError) as exc:
        print(f"error: {exc}", file=err)
        return 1
    for where, reason in unloaded:
        print(f"skipped: {where}: {reason}", file=err)
    unused = set(overrides) - {str(rule.id) for rule in rules}
    for rule_id in sorted(unused):
        print(f"warning: override {overrides[rule_id]['title']!r} ({rule_id}) matches no imported rule", file=err)
    from tattletail.correlation import sigma as sigma_correlations

    correlations = [rule for rule in rules if sigma_correlations.is_correlation(rule)]
    imported, skipped = import_rules(rule for rule in rules if not sigma_correlations.is_correlation(rule))
    tables = []
    translated = {sigma_correlations.rule_key(item.rule): item.rule.title for item in imported}
    for rule in correlations:  # over the rules just translated (tattletail.correlation.sigma)
        try:
            if rule.title in translated.values():
                raise sigma_correlations.SkippedCorrelation("its title is also a rule's (alerts go out under it)")
            tables.append(sigma_correlations.translate(rule, translated))
        except sigma_correlations.SkippedCorrelation as exc:
            skipped.append((rule, str(exc)))
    for rule, reason in skipped:
        print(f"skipped: {rule.title} ({rule.custom_attributes.get('tattletail_source', '?')}): {reason}", file=err)
    text = pack(imported, ", ".join(args.paths)) + sigma_correlations.toml(tables, LICENSE)
    if args.output:
        write_file(args.output, text)
    else:
        out.write(text)
    print(f"{len(imported)} rules translated" + (f", {len(tables)} correlations" if correlations else "")
          + f", {len(skipped) + len(unloaded)} skipped"
          + (f", written to {args.output}" if args.output else ""), file=err)
    return 0


def register(sub: Any) -> None:
    imp = sub.add_parser("import", help="import rules from other formats")
    imp_sub = imp.add_subparsers(dest="format_", required=True, metavar="{sigma}")
    sig = imp_sub.add_parser("sigma", help="Sigma rules (YAML files or directories) to a rule pack, translated to jq")
    sig.add_argument("paths", nargs="+", metavar="PATH")
    sig.add_argument("-o", "--output", metavar="PACK.toml")
    sig.add_argument("--overrides", metavar="OVERRIDES.toml",
                     help="corrections to upstream rules, each with its reason (see sigma-overrides.toml)")
    sig.set_defaults(func=cmd_import_sigma)
