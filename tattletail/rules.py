"""A rule: a jq program over one CloudTrail record, with the Go tool's match semantics.

Only the first output of ``jq_match`` counts. No output, ``null`` or ``false``: no match. ``true``,
or an output equal to the record itself: a match with no annotation. Anything else: a match
annotated with that value. A jq runtime error is the rule's problem on that record only
(``RuleRuntimeError``); the engine logs it and carries on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import jq

from tattletail.errors import RuleRuntimeError
from tattletail.jq.values import equal, normalize
from tattletail.jq.values import record_text as values_record_text


def compile_jq(program: str) -> Any:
    """Compile a jq program; raise ``ValueError`` carrying jq's own message when it does not compile."""
    try:
        return jq.compile(program)
    except ValueError as exc:
        message = str(exc).strip()
        # libjq appends a count line ("jq: 1 compile error") that says nothing new.
        lines = [ln for ln in message.splitlines() if not ln.startswith("jq: ") or "error:" in ln]
        raise ValueError("\n".join(lines) or message) from None


_last_record: list[Any] = [None, {}]


def exact_record(record: Any, fields: frozenset[str] | None) -> bool:
    """``values.exact`` for the parts of the record a compiled rule reads (``fields``; the whole record
    when ``None``), computed once per record and part (the engine evaluates all rules on one record
    before the next)."""
    from tattletail.jq.values import exact, vouched

    if vouched(record):
        return True
    if _last_record[0] is not record:
        _last_record[0], _last_record[1] = record, {}
    known: dict[Any, bool] = _last_record[1]
    if fields is None:
        if None not in known:
            known[None] = exact(record)
        return known[None]
    if not isinstance(record, dict):
        return exact_record(record, None)
    for name in fields:
        ok = known.get(name)
        if ok is None:
            ok = known[name] = exact(record.get(name))
        if not ok:
            return False
    return True


def _binding_error(exc: ValueError) -> str:
    return str(exc)


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
    _libjq_wrapped: Any = field(default=None, compare=False, repr=False)  # for values the compiled path hands over

    @property
    def python(self) -> Any:
        """The rule compiled to Python (``jq.compile``), or ``None`` when it must run in libjq."""
        return self._compiled_python()[0]

    @property
    def engine_reason(self) -> str:
        """``python``, or ``libjq`` with the construct that keeps the rule out of the compiled subset."""
        compiled, reason = self._compiled_python()
        return "python" if compiled is not None else f"libjq ({reason})"

    def _compiled_python(self) -> tuple[Any, str]:
        if self._python is None:
            from tattletail.jq.compile import compile_program
            from tattletail.jq.nodes import Unsupported
            from tattletail.jq.roots import root_fields

            try:
                compiled = compile_program(self.jq_match)
                result: tuple[Any, str] = (self._guarded(compiled, root_fields(self.jq_match)), "")
            except Unsupported as exc:
                result = (None, str(exc))
            except RecursionError:
                result = (None, "nested too deep")
            object.__setattr__(self, "_python", result)
        return self._python  # type: ignore[no-any-return]

    def _guarded(self, compiled: Any, fields: frozenset[str] | None) -> Any:
        """The compiled program where it is exact, libjq where it is not: a record holding a value the
        compiled path cannot treat as libjq does (``values.exact``), or a value it asks libjq about
        (``Fallback``: a regex that could reach Oniguruma's retry limit, Unicode case folding...), or
        any Python exception (a bug must cost speed, never a different answer) is evaluated by libjq."""
        from tattletail.jq.modes import NOTHING, OPT, first
        from tattletail.jq.values import JqError

        def run(record: Any) -> Any:
            if exact_record(record, fields):
                try:
                    return first(compiled, record)
                except JqError:
                    raise
                except Exception:  # noqa: BLE001 - Fallback, or anything unforeseen: ask libjq
                    pass
            has_output, value = self._libjq_first(record)
            return value if has_output else NOTHING
        return (OPT, run)

    def _libjq_first(self, record: Any) -> tuple[bool, Any]:
        """libjq's first output on ``record`` as the compiled path reports it (the record itself when
        jq says it is equal to it, as the engine's combined program does); ``JqError`` on error."""
        from tattletail.jq.values import JqError, record_text

        program = self._libjq_wrapped
        if program is None:
            program = compile_jq(f". as $__tattletail_record | [first((\n{self.jq_match}\n))]"
                                 " | if length == 0 then [] elif .[0] == $__tattletail_record then [0]"
                                 " else [1, .[0]] end")
            object.__setattr__(self, "_libjq_wrapped", program)
        try:
            code = program.input_text(record_text(record)).first()
        except ValueError as exc:
            raise JqError(_binding_error(exc)) from None
        if not code:
            return False, None
        return True, record if code[0] == 0 else code[1]

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
        text = record_text if record_text is not None else values_record_text(record)
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
