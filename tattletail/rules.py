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
from tattletail.jq.recordtext import record_text as values_record_text
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


_evaluating: list[Any] = [None, {}]  # the record an engine is evaluating, and its exactness per part


def evaluating(record: Any) -> None:
    """Remember ``exact_record``'s answers for ``record`` until the next call (``None``: forget them).
    The engine calls it around one record's evaluation, so all its rules share one check; outside it
    nothing is cached, as a record can be changed in place between two evaluations (Python API)."""
    _evaluating[0], _evaluating[1] = record, {}


def exact_record(record: Any, fields: frozenset[str] | None) -> bool:
    """``recordtext.exact`` for the parts of the record a compiled rule reads (``fields``; the whole record
    when ``None``), computed once per part while the engine evaluates this record (``evaluating``)."""
    from tattletail.jq.recordtext import exact, vouched

    if vouched(record):
        return True
    known: dict[Any, bool] = _evaluating[1] if _evaluating[0] is record else {}
    if fields is None or not isinstance(record, dict):
        ok = known.get(None)
        if ok is None:
            ok = known[None] = exact(record)
        return ok
    for name in fields:
        ok = known.get(name)
        if ok is None:
            ok = known[name] = exact(record.get(name))
        if not ok:
            return False
    return True


RECORD_VAR = "$__tattletail_record"


def code_program(program: str) -> str:
    """jq text evaluating ``program`` on ``.`` (with ``$__tattletail_record`` bound to the record) to a
    small code for its first output: ``null`` none, ``0`` the record itself (jq's ``==``, on the values
    libjq holds), ``1`` true, ``[value]`` any other value (``null`` and ``false`` too: no match, but the
    compiled path's libjq fallback gives them back as they are), ``{"error": text}`` a runtime error,
    with jq's own text for the error value (``tojson`` for a non-string: ``error(1.0)`` is "1.0", as
    the compiled path says). ``NO_MATCH`` selects the codes worth reporting.

    The rule's text stands on lines of its own, followed by an empty line: in jq 1.8 a ``# comment``
    ending in a backslash continues onto the next line (one line: a backslash takes one newline), so a
    single newline would let the comment swallow the wrapper's closing parenthesis."""
    return (f"try ([first(\n{program}\n\n)] | if length == 0 then null else .[0]"
            f" | if . == true then 1 elif . == {RECORD_VAR} then 0 else [.] end end)"
            ' catch {"error": (if type == "string" then . else tojson end)}')


def text_errors_program(program: str) -> str:
    """``program`` with its runtime errors raised again as jq's own text for the error value (``tojson``
    for a non-string), for callers that read errors from the binding's exception, which would print
    ``error(1.0)`` as "1" (the isolation child). The same empty line as ``code_program`` follows it."""
    return f'try (\n{program}\n\n) catch error(if type == "string" then . else tojson end)'


NO_MATCH = ". != null and . != [null] and . != [false]"
"""A jq condition on a ``code_program`` code: true when the code reports something (match or error)."""


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
    _libjq_wrapped: Any = field(default=None, compare=False, repr=False)  # code_program in libjq (False: cannot)

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
        compiled path cannot treat as libjq does (``recordtext.exact``), or a value it asks libjq about
        (``Fallback``: a regex that could reach Oniguruma's retry limit, Unicode case folding...), or
        any Python exception (a bug, a record nested too deep for Python's stack: it must cost speed,
        never a different answer) is evaluated by libjq."""
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
            code = self.libjq_code(record)
            if code is None:
                return NOTHING
            if isinstance(code, dict):
                raise JqError(code["error"])
            return record if code == 0 else True if code == 1 else code[0]  # null, false as they are
        return (OPT, run)

    def libjq_code(self, record: Any, text: str | None = None) -> Any:
        """libjq's answer for this rule on ``record`` (given as ``text`` when the caller has it) as a code
        (``code_program``): decided inside jq, so "the output is the record itself" is jq's ``==`` on the
        values libjq holds, and an error's text is jq's own. If the wrapped program does not compile
        (it should always), the rule runs alone and the code is built here: never silenced."""
        text = text if text is not None else values_record_text(record)
        program = self._libjq_wrapped
        if program is None:
            try:
                program = compile_jq(f". as {RECORD_VAR} | {code_program(self.jq_match)}")
            except ValueError:
                program = False
            object.__setattr__(self, "_libjq_wrapped", program)
        if program is False:
            return self._code_alone(record, text)
        try:
            return program.input_text(text).first()
        except StopIteration:  # halt: no output
            return None
        except ValueError as exc:  # an error the wrapper cannot catch: the rule's error
            return {"error": _binding_error(exc)}

    def _code_alone(self, record: Any, text: str) -> Any:
        """``libjq_code`` from the rule's own program (the binding's error text; identity by ``equal``)."""
        try:
            has_output, value = self.first_output(record, text)
        except RuleRuntimeError as exc:
            return {"error": str(exc)}
        if not has_output:
            return None
        if value is True:
            return 1
        return 0 if value is record or (isinstance(value, dict) and equal(value, record)) else [value]

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
        """Evaluate this rule alone on one record in libjq (the reference path the engine must agree
        with; its one-by-one fallback): ``RuleRuntimeError`` with jq's text on a runtime error."""
        code = self.libjq_code(record, record_text)
        if isinstance(code, dict):
            raise RuleRuntimeError(code["error"])
        return Match.from_code(self, record, code)


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

    @classmethod
    def from_code(cls, rule: Rule, record: dict[str, Any], code: Any) -> Match | None:
        """The match a ``code_program`` code makes (not an error code): jq has decided already."""
        if code is None or (isinstance(code, list) and (code[0] is None or code[0] is False)):
            return None  # (not ``code == [False]``: Python's ``[0] == [False]``)
        if code == 0:
            return cls(rule, record, record, None)
        if code == 1:
            return cls(rule, record, True, None)
        return cls(rule, record, code[0], code[0])
