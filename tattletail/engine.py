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

3. Every evaluation is bounded. Rules that ``tattletail.guard`` proves terminating (every real rule so
   far) run in-process as above. The others run in a child process (``tattletail.sandbox``) with a
   wall-clock ``budget`` per rule and record: a rule that overruns it, or crashes libjq, is stopped and
   reported through ``on_error`` (rule, eventID, budget), every time. A rule is never disabled: a
   hostile file could otherwise trip its overruns on purpose and buy silence for the records after
   them. Instead, after ``max_overruns`` overruns in one object the rule's budget halves at each further
   overrun, down to ``STRAINED_BUDGET`` (one ``rule_strained`` log line when this starts): the rule
   still answers on every later record (real rules take milliseconds), and a hostile record costs at
   most that floor plus a child restart (~0.2 s), so the time a file can take is bounded by its count
   of hostile records, and the invocation's deadline bounds that. A record answered within the budget
   does not restore it. An object's evaluation is recognised by its ``on_error`` handler:
   ``pipeline.evaluate`` passes a new one per object, so a new handler starts a new count; evaluations
   that use the engine's own handler count for the engine's life (one CLI run). ``reset_overruns``
   starts a new count explicitly.
"""

from __future__ import annotations

import json
import logging
import os
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from tattletail import log, settings
from tattletail.alerts.facts import get
from tattletail.errors import RuleRuntimeError
from tattletail.guard import Verdict, analyse
from tattletail.jq.modes import NOTHING, first
from tattletail.jq.prefilter import Path, necessary_condition
from tattletail.jq.recordtext import record_text, without_lone_surrogates
from tattletail.jq.values import JqError
from tattletail.rules import (
    NO_MATCH,
    RECORD_VAR,
    Match,
    Rule,
    code_program,
    compile_jq,
    evaluating,
    text_errors_program,
)
from tattletail.sandbox import Sandbox, SandboxBroken

DEFAULT_BUDGET = 1.0   # seconds of wall clock per isolated rule and record; real rules take milliseconds
MAX_OVERRUNS = 3       # overruns at the full budget; then the budget halves at each one, down to:
STRAINED_BUDGET = 0.05  # seconds: still far above what a real rule takes on a record

ErrorHandler = Callable[[Rule, dict[str, Any], str], None]

_MASK_VAR = "$__tattletail_mask"
_dumps = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode


def _ignore(rule: Rule, record: dict[str, Any], message: str) -> None:
    pass


def combined_program(rules: Sequence[Rule]) -> str:
    """One jq program evaluating every rule whose mask bit is set, emitting ``[index, code]`` only
    for rules with something to report (``rules.code_program``: each rule's text on lines of its own,
    so a trailing ``# comment``, even one continued by a backslash, cannot swallow the wrapper)."""
    parts = []
    for i, rule in enumerate(rules):
        parts.append(f"(if {_MASK_VAR}[{i}] == 1 then (({code_program(rule.jq_match)})"
                     f" | select({NO_MATCH}) | [{i}, .]) else empty end)")
    return f".[0] as {_MASK_VAR} | .[1] | . as {RECORD_VAR} | [\n" + ",\n".join(parts) + "\n]"


class Engine:
    """Evaluates a fixed list of rules against records."""

    def __init__(self, rules: Sequence[Rule], *, prefilter: bool = True, compiled: bool = True,
                 on_error: ErrorHandler = _ignore, budget: float | None = None,
                 max_overruns: int = MAX_OVERRUNS, sandbox_memory: int | None = None) -> None:
        self.rules = list(rules)
        self.on_error = on_error
        self.budget = budget if budget is not None else default_budget()
        self.sandbox_memory = sandbox_memory  # the child's address-space limit (default: sandbox's)
        self.max_overruns = max_overruns
        self.verdicts: list[Verdict] = [analyse(rule.jq_match) for rule in self.rules]
        # unproven rules run in a child process under a budget; they never enter the in-process paths
        self._isolated = [i for i, v in enumerate(self.verdicts) if not v.proven]
        self._sandbox_slot = {i: n for n, i in enumerate(self._isolated)}
        self._sandbox: Sandbox | None = None
        self._overruns: dict[int, int] = {}
        self._handler: ErrorHandler | None = None  # whose object the overrun counts belong to
        # rules in the compiled subset run as Python on the parsed record; the others share one libjq program
        self._python: dict[int, Any] = {}
        if compiled:
            for i, rule in enumerate(self.rules):
                if i not in self._sandbox_slot and rule.python is not None:
                    self._python[i] = rule.python
        self._jq_positions = [i for i in range(len(self.rules))   # jq slot -> rule index
                              if i not in self._python and i not in self._sandbox_slot]
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
                if hits is None and not value.isascii():  # libjq reads a lone surrogate as U+FFFD
                    hits = by_value.get(without_lone_surrogates(value))
                if hits:
                    found = set(hits) if found is None else found.union(hits)
        if found is None:
            return self._always
        found.update(self._always)
        return sorted(found)

    @property
    def isolated(self) -> list[Rule]:
        """The rules evaluated in the child process, as the guard could not prove them terminating."""
        return [self.rules[i] for i in self._isolated]

    def reset_overruns(self) -> None:
        """Start a new overrun count: every rule has its full budget again (a new object begins)."""
        self._overruns.clear()

    def close(self) -> None:
        """Stop the isolation child, if one runs (a new one starts when needed)."""
        if self._sandbox is not None:
            self._sandbox.close()

    def evaluate(self, record: dict[str, Any], on_error: ErrorHandler | None = None) -> list[Match]:
        """Every match of every rule on one record, in rule order. jq runtime errors go to
        ``on_error`` (default: the engine's) and count as no match."""
        on_error = on_error or self.on_error
        if on_error != self._handler:  # == : bound methods are new objects at each access
            self._handler = on_error
            self.reset_overruns()
        candidates = self.candidates(record)
        if not candidates:
            return []
        evaluating(record)
        try:
            return self._evaluate(record, candidates, on_error)
        finally:
            evaluating(None)

    def _evaluate(self, record: dict[str, Any], candidates: list[int], on_error: ErrorHandler) -> list[Match]:
        found: dict[int, Match] = {}
        jq_candidates = []
        isolated = []
        for i in candidates:
            if i in self._sandbox_slot:
                isolated.append(i)
                continue
            compiled = self._python.get(i)
            if compiled is None:
                jq_candidates.append(i)
                continue
            rule = self.rules[i]
            try:
                out = first(compiled, record)
                match = Match.from_output(rule, record, out) if out is not NOTHING else None
            except JqError as exc:
                on_error(rule, record, str(exc))
                continue
            except Exception as exc:  # a bug in the compiled path must not silence the other rules
                on_error(rule, record, f"internal error in compiled rule: {type(exc).__name__}: {exc}")
                continue
            if match is not None:
                found[i] = match
        if jq_candidates:
            found.update(self._evaluate_jq(record, jq_candidates, on_error))
        if isolated:
            found.update(self._evaluate_isolated(record, isolated, on_error))
        return [found[i] for i in sorted(found)]

    def _evaluate_isolated(self, record: dict[str, Any], candidates: list[int],
                           on_error: ErrorHandler) -> dict[int, Match]:
        """The unproven rules among ``candidates``, each under the budget in the child process."""
        if self._sandbox is None:
            self._sandbox = Sandbox([text_errors_program(self.rules[i].jq_match) for i in self._isolated],
                                    memory_limit=self.sandbox_memory)
        slots = [self._sandbox_slot[i] for i in candidates]
        budgets = {self._sandbox_slot[i]: self.budget_of(i) for i in candidates}
        try:
            # the text libjq reads in-process too (a lone surrogate as U+FFFD, which the child's parser
            # would otherwise refuse, losing the record for every isolated rule; numbers as written)
            outcomes = self._sandbox.evaluate(record_text(record), slots, budgets)
        except SandboxBroken as exc:
            for i in candidates:
                self._overrun(i, record, f"cannot be evaluated safely: {exc}", budgets[self._sandbox_slot[i]],
                              on_error)
            return {}
        matches: dict[int, Match] = {}
        for slot, outcome in outcomes:
            i = self._isolated[slot]
            rule = self.rules[i]
            if outcome.kind == "output":
                match = Match.from_output(rule, record, outcome.value)
                if match is not None:
                    matches[i] = match
            elif outcome.kind == "error":
                on_error(rule, record, outcome.message)
            elif outcome.kind in ("overrun", "crashed"):
                self._overrun(i, record, outcome.message, budgets[slot], on_error)
        return matches

    def budget_of(self, i: int) -> float:
        """Rule ``i``'s budget on the next record: the full budget for its first ``max_overruns``
        overruns in the object, then halved at each further one, down to ``STRAINED_BUDGET``."""
        beyond = self._overruns.get(i, 0) - self.max_overruns
        if beyond < 0:
            return self.budget
        return max(min(STRAINED_BUDGET, self.budget), self.budget * 0.5 ** (beyond + 1))

    def _overrun(self, i: int, record: dict[str, Any], message: str, budget: float,
                 on_error: ErrorHandler) -> None:
        """Report one stopped evaluation (every one: the rule stays on, with a shorter budget)."""
        rule = self.rules[i]
        count = self._overruns[i] = self._overruns.get(i, 0) + 1
        event_id = record.get("eventID") if isinstance(record, dict) else None
        following = self.budget_of(i)
        on_error(rule, record, f"evaluation stopped on event {event_id}: {message} "
                               f"(budget {budget:g} s per record; overrun {count} in this object; the rule stays "
                               f"on, with {following:g} s per record from now)")
        if count == self.max_overruns:
            log.emit("rule_strained", logging.ERROR, rule=rule.name, overruns=count, budget_seconds=self.budget,
                     strained_budget_seconds=min(STRAINED_BUDGET, self.budget),
                     reasons=list(self.verdicts[i].unproven), last_event_id=event_id, last_error=message)

    def _evaluate_jq(self, record: dict[str, Any], candidates: list[int],
                     on_error: ErrorHandler) -> dict[int, Match]:
        """The libjq rules among ``candidates``, in one call of the combined program. The record is given
        as ``recordtext.record_text`` writes it (the number policy stated there): numbers keep their text
        (``1.0`` stays ``1.0``, as libjq 1.8 and the compiled path both print it), bigger ints and
        infinities are written so that libjq reads the values the compiled path hands over."""
        text = record_text(record)
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
            elif (match := Match.from_code(rule, record, code)) is not None:
                matches[i] = match
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


def default_budget(environ: Mapping[str, str] | None = None) -> float:
    """The per-record budget of isolated rules: ``TATTLETAIL_RULE_BUDGET`` seconds, else ``DEFAULT_BUDGET``."""
    text = (os.environ if environ is None else environ).get(settings.RULE_BUDGET, "")
    try:
        value = float(text)
    except ValueError:
        return DEFAULT_BUDGET
    return value if 0 < value < float("inf") else DEFAULT_BUDGET


def isolation_notes(rules: Sequence[Rule], budget: float = DEFAULT_BUDGET) -> list[str]:
    """For ``tattletail check``: one line per rule the guard cannot prove terminating, which the engine
    therefore runs in its isolation child (slower, and stopped past ``budget``). A note, not an error:
    ``until(. > 3; . + 1)`` is a fine rule; what can never end is refused by the loader already."""
    notes = []
    for rule in rules:
        verdict = analyse(rule.jq_match)
        if not verdict.proven:
            notes.append(f"rule {rule.name!r}: not proven to terminate ({'; '.join(verdict.unproven)}): it runs "
                         f"in the isolation child, stopped after {budget:g} s per record")
    return notes


def _error_text(message: Any) -> str:
    """The error text of a code (jq's own text already, see ``rules.code_program``)."""
    return message if isinstance(message, str) else json.dumps(message)
