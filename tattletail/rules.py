"""A rule: a jq program over one CloudTrail record, with the Go tool's match semantics.

Only the first output of ``jq_match`` counts. No output, ``null`` or ``false``: no match. ``true``,
or an output equal to the record itself: a match with no annotation. Anything else: a match
annotated with that value. A jq runtime error is the rule's problem on that record only
(``RuleRuntimeError``); the engine logs it and carries on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import jq

from tattletail.errors import RuleRuntimeError
from tattletail.jq.values import equal, normalize


def compile_jq(program: str) -> Any:
    """Compile a jq program; raise ``ValueError`` carrying jq's own message when it does not compile."""
    try:
        return jq.compile(program)
    except ValueError as exc:
        message = str(exc).strip()
        # libjq appends a count line ("jq: 1 compile error") that says nothing new.
        lines = [ln for ln in message.splitlines() if not ln.startswith("jq: ") or "error:" in ln]
        raise ValueError("\n".join(lines) or message) from None


@dataclass(frozen=True)
class Rule:
    """One ``[[rule]]`` of the configuration. ``title`` and ``fields`` are jq programs too, evaluated
    on a matching record to present it; ``severity`` and ``runbook`` are shown as they are."""

    name: str
    jq_match: str
    description: str = ""
    destinations: tuple[str, ...] = ()
    severity: str | None = None
    title: str | None = None
    fields: tuple[tuple[str, str], ...] = ()
    runbook: str | None = None
    references: tuple[str, ...] = ()
    tests: tuple[dict[str, Any], ...] = ()   # [[rule.test]] tables, run by ``tattletail test``
    origin: str = ""                         # the file that defines the rule (test files are beside it)
    digest_threshold: int | None = None      # overrides the destination's, for this rule
    sigma_id: str | None = None              # provenance of imported rules: credit the author, keep the license
    author: str | None = None
    license: str | None = None
    falsepositives: tuple[str, ...] = ()
    enabled: bool = True                     # False: shipped off in its pack (an include's ``enable`` turns it on)
    _program: Any = field(default=None, compare=False, repr=False)
    title_program: Any = field(default=None, compare=False, repr=False)
    field_programs: tuple[Any, ...] = field(default=(), compare=False, repr=False)
    _python: Any = field(default=None, compare=False, repr=False)  # (compiled, reason it is None)

    @property
    def python(self) -> Any:
        """The rule compiled to Python (``jqcompile``), or ``None`` when it must run in libjq."""
        return self._compiled_python()[0]

    @property
    def engine_reason(self) -> str:
        """``python``, or ``libjq`` with the construct that keeps the rule out of the compiled subset."""
        compiled, reason = self._compiled_python()
        return "python" if compiled is not None else f"libjq ({reason})"

    def _compiled_python(self) -> tuple[Any, str]:
        if self._python is None:
            from tattletail.jq.compile import compile_program
            from tattletail.jq.parse import Unsupported

            try:
                result: tuple[Any, str] = (compile_program(self.jq_match), "")
            except Unsupported as exc:
                result = (None, str(exc))
            except RecursionError:
                result = (None, "nested too deep")
            object.__setattr__(self, "_python", result)
        return self._python  # type: ignore[no-any-return]

    @classmethod
    def compiled(cls, name: str, jq_match: str, **options: Any) -> Rule:
        """Build a rule and compile all its programs now (``ValueError`` with jq's message if one is
        invalid)."""
        title = options.get("title")
        fields = tuple(options.pop("fields", ()))
        return cls(name, jq_match, **options, fields=fields, _program=compile_jq(jq_match),
                   title_program=compile_jq(title) if title is not None else None,
                   field_programs=tuple(compile_jq(program) for _, program in fields))

    @property
    def program(self) -> Any:
        if self._program is None:
            object.__setattr__(self, "_program", compile_jq(self.jq_match))
        return self._program

    def first_output(self, record: dict[str, Any], record_text: str | None = None) -> tuple[bool, Any]:
        """``(True, value)`` for the first output, ``(False, None)`` when there is none."""
        text = record_text if record_text is not None else json.dumps(record)
        try:
            for value in self.program.input_text(text):
                return True, value
        except ValueError as exc:
            raise RuleRuntimeError(str(exc)) from None
        return False, None

    def match(self, record: dict[str, Any], record_text: str | None = None) -> Match | None:
        """Evaluate this rule alone on one record (the reference path the engine must agree with)."""
        has_output, value = self.first_output(record, record_text)
        return Match.from_output(self, record, value) if has_output else None


@dataclass(frozen=True)
class Match:
    """A rule matched a record. ``value`` is jq's first output as the Go tool passes it on
    (the record itself for a plain ``select``); ``annotation`` is that value when it says something
    beyond "matched", else ``None``."""

    rule: Rule
    record: dict[str, Any]
    value: Any
    annotation: Any

    @classmethod
    def from_output(cls, rule: Rule, record: dict[str, Any], value: Any) -> Match | None:
        """The match a first output makes, compared as jq compares (``false`` is not ``0``), with the
        value as jq gives it back (``1.0`` is ``1``)."""
        if value is None or value is False:
            return None
        if value is True:
            return cls(rule, record, True, None)
        if value is record or (isinstance(value, dict) and equal(value, record)):
            return cls(rule, record, record, None)
        value = normalize(value)
        return cls(rule, record, value, value)
