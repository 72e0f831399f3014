"""Records x rules -> matches, with one libjq call per record at most.

Calling libjq has a fixed cost per call, so the engine does not call each rule's program on each
record (the Go tool's way). Instead:

1. ``prefilter`` gives each rule a necessary condition where one can be proven; an index from
   (path, value) to rules tells, per record, which rules can possibly match. A record no rule can
   match never reaches jq and is never serialised.
2. The remaining rules run in *one* combined jq program that receives ``[mask, record]`` and
   evaluates each rule whose mask bit is set inside ``try first(...)``, so one rule's error or extra
   outputs cannot disturb another. Each rule reports a small code: ``null`` no match, ``0`` the record
   itself, ``1`` true, ``[value]`` an annotation, ``{"error": message}`` a jq runtime error.

If the combined program itself fails on a record (``halt_error`` and the like), the engine falls back
to evaluating those rules one by one, so the result is always that of ``Rule.match``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from tattletail.alerts.facts import get
from tattletail.errors import RuleRuntimeError
from tattletail.jq.compile import NOTHING, first
from tattletail.jq.prefilter import Path, necessary_condition
from tattletail.jq.values import JqError, normalize
from tattletail.rules import Match, Rule, compile_jq

ErrorHandler = Callable[[Rule, dict[str, Any], str], None]

_RECORD_VAR = "$__tattletail_record"
_MASK_VAR = "$__tattletail_mask"
_dumps = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode


def _ignore(rule: Rule, record: dict[str, Any], message: str) -> None:
    pass


def combined_program(rules: Sequence[Rule]) -> str:
    """One jq program evaluating every rule whose mask bit is set, emitting ``[index, code]`` only
    for rules with something to report. Each rule's text stands on lines of its own, so a trailing
    ``# comment`` in it cannot swallow the wrapper's closing parenthesis."""
    parts = []
    for i, rule in enumerate(rules):
        parts.append(
            f"(if {_MASK_VAR}[{i}] == 1 then ((try ([first(\n{rule.jq_match}\n)]"
            f" | if length == 0 then null else .[0]"
            f" | if . == null or . == false then null elif . == true then 1"
            f" elif . == {_RECORD_VAR} then 0 else [.] end end)"
            f' catch {{"error": .}}) | select(. != null) | [{i}, .]) else empty end)'
        )
    return f".[0] as {_MASK_VAR} | .[1] | . as {_RECORD_VAR} | [\n" + ",\n".join(parts) + "\n]"


class Engine:
    """Evaluates a fixed list of rules against records."""

    def __init__(self, rules: Sequence[Rule], *, prefilter: bool = True, compiled: bool = True,
                 on_error: ErrorHandler = _ignore) -> None:
        self.rules = list(rules)
        self.on_error = on_error
        # rules in the compiled subset run as Python on the parsed record; the others share one libjq program
        self._python: dict[int, Any] = {}
        if compiled:
            for i, rule in enumerate(self.rules):
                if rule.python is not None:
                    self._python[i] = rule.python
        self._jq_positions = [i for i in range(len(self.rules)) if i not in self._python]  # jq slot -> rule index
        self._jq_rules = [self.rules[i] for i in self._jq_positions]
        self._jq_index = {i: n for n, i in enumerate(self._jq_positions)}
        self._always: list[int] = []
        self._index: dict[Path, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        for i, rule in enumerate(self.rules):
            condition = necessary_condition(rule.jq_match) if prefilter else None
            if condition is None:
                self._always.append(i)
                continue
            for path, values in condition:
                for value in values:
                    self._index[path][value].append(i)
        # (first key, the rest of the path, value -> rules): the first key looked up directly, as most
        # conditions are on top-level fields (.eventName, .eventSource)
        self._lookups = [(path[0], path[1:], dict(by_value)) for path, by_value in self._index.items()]
        try:
            self._program: Any = compile_jq(combined_program(self._jq_rules)) if self._jq_rules else None
        except ValueError:
            self._program = None  # every rule compiles alone; evaluate them one by one

    @property
    def prefiltered(self) -> int:
        """How many rules have a necessary condition (and so are skipped on most records)."""
        return len(self.rules) - len(self._always)

    def candidates(self, record: dict[str, Any]) -> list[int]:
        """Indexes of the rules that can possibly match ``record``, in rule order."""
        found: set[int] | None = None
        for key, rest, by_value in self._lookups:
            value = record.get(key)
            if rest:
                value = get(value, *rest)
            if isinstance(value, str):
                hits = by_value.get(value)
                if hits:
                    found = set(hits) if found is None else found.union(hits)
        if found is None:
            return self._always
        found.update(self._always)
        return sorted(found)

    def evaluate(self, record: dict[str, Any], on_error: ErrorHandler | None = None) -> list[Match]:
        """Every match of every rule on one record, in rule order. jq runtime errors go to
        ``on_error`` (default: the engine's) and count as no match."""
        on_error = on_error or self.on_error
        candidates = self.candidates(record)
        if not candidates:
            return []
        found: dict[int, Match] = {}
        jq_candidates = []
        for i in candidates:
            compiled = self._python.get(i)
            if compiled is None:
                jq_candidates.append(i)
                continue
            rule = self.rules[i]
            try:
                out = first(compiled, record)
            except JqError as exc:
                on_error(rule, record, str(exc))
                continue
            except Exception as exc:  # a bug in the compiled path must not silence the other rules
                on_error(rule, record, f"internal error in compiled rule: {type(exc).__name__}: {exc}")
                continue
            match = Match.from_output(rule, record, out) if out is not NOTHING else None
            if match is not None:
                found[i] = match
        if jq_candidates:
            found.update(self._evaluate_jq(record, jq_candidates, on_error))
        return [found[i] for i in sorted(found)]

    def _evaluate_jq(self, record: dict[str, Any], candidates: list[int],
                     on_error: ErrorHandler) -> dict[int, Match]:
        """The libjq rules among ``candidates``, in one call of the combined program. The record is given
        with integral floats as integers: jq 1.7 would otherwise keep ``1.0`` as written, where jq 1.6, the
        Go tool (gojq) and the compiled path print ``1``."""
        text = _dumps(normalize(record))
        if self._program is None:
            return self._one_by_one(record, text, candidates, on_error)
        mask = [0] * len(self._jq_rules)
        for i in candidates:
            mask[self._jq_index[i]] = 1
        try:
            codes = self._program.input_text(f"[{_dumps(mask)},{text}]").first()
        except (ValueError, StopIteration):  # a rule halted the whole program
            return self._one_by_one(record, text, candidates, on_error)
        matches: dict[int, Match] = {}
        for n, code in codes:
            rule, i = self._jq_rules[n], self._jq_positions[n]
            if isinstance(code, dict):
                on_error(rule, record, _error_text(code.get("error")))
            elif code == 0:
                matches[i] = Match(rule, record, record, None)
            elif code == 1:
                matches[i] = Match(rule, record, True, None)
            else:
                matches[i] = Match(rule, record, code[0], code[0])
        return matches

    def _one_by_one(self, record: dict[str, Any], text: str, candidates: Iterable[int],
                    on_error: ErrorHandler) -> dict[int, Match]:
        matches: dict[int, Match] = {}
        for i in candidates:
            rule = self.rules[i]
            try:
                match = rule.match(record, text)
            except RuleRuntimeError as exc:
                on_error(rule, record, str(exc))
                continue
            if match is not None:
                matches[i] = match
        return matches


def _error_text(message: Any) -> str:
    """jq's error value as text: ``error("x")`` gives "x"; other values are shown as JSON."""
    return message if isinstance(message, str) else json.dumps(message)
