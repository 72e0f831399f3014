"""A match made readable: title, severity, facts and extra fields, shown in a reader's zone and language.

``Alert.of(match)`` evaluates the rule's ``title`` and ``fields`` jq programs once per match; each
destination then renders the same alert with its own ``View`` (time zone and language), so Slack, email
and SNS tell the same story. The view gives text already made safe for every format (one-line
values on one line, invisible characters shown: ``escape.one_line``); each destination then applies
its own format's escaping from ``tattletail.alerts.escape``.

Title and field programs are judged like ``jq_match`` (``tattletail.guard``): a proven one runs
in-process; any other runs in an isolation child (``tattletail.sandbox``, one per program, started on
first use) under the engine's per-record budget, since libjq cannot be stopped in-process and
``until(. >= 2e7; . + 1)`` in a title would otherwise run past the Lambda's deadline. An overrun is
that title's or field's error: reported, and the alert goes out without it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from tattletail.alerts.escape import json_text, one_line, visible
from tattletail.alerts.facts import Facts, derive
from tattletail.alerts.labels import label
from tattletail.guard import analyse
from tattletail.jq.recordtext import record_text
from tattletail.rules import Match, Rule
from tattletail.sandbox import Sandbox, SandboxBroken

SEVERITIES = ("info", "low", "medium", "high", "critical")
ErrorHandler = Callable[[Rule, str, str], None]  # rule, what ("title" or a field label), message


def as_text(value: Any) -> str:
    """A jq output as a reader sees it: strings as they are, everything else as compact JSON."""
    return value if isinstance(value, str) else json_text(value)


def pretty_json(value: Any) -> str:
    """The record as people read it: indented JSON, invisible characters as JSON escapes."""
    return json_text(value, indent=2)


def log_presentation_error(rule: Rule, what: str, message: str) -> None:
    """A title or field program that fails is logged and left out of the alert."""
    from tattletail import log

    log.emit("presentation_error", logging.WARNING, rule=rule.name, part=what, error=message)


@dataclass(frozen=True)
class Alert:
    """Everything any destination shows about one match."""

    match: Match
    facts: Facts
    title: str
    fields: tuple[tuple[str, str], ...] = ()

    @property
    def rule(self) -> Rule:
        return self.match.rule

    @property
    def record(self) -> dict[str, Any]:
        return self.match.record

    @property
    def severity(self) -> str | None:
        return self.match.rule.severity

    @property
    def annotation(self) -> str | None:
        return None if self.match.annotation is None else as_text(self.match.annotation)

    @classmethod
    def of(cls, match: Match, on_error: ErrorHandler = log_presentation_error) -> Alert:
        """Evaluate the rule's title and fields on the record; one that fails or gives nothing is
        left out (the rule name stands in for a title), and the error is reported, not raised."""
        rule, record = match.rule, match.record
        title = None
        if rule.title is not None:
            title = _first_text(rule, "title", rule.title, rule.title_program, record, on_error)
        fields = []
        for (name, text), program in zip(rule.fields, rule.field_programs, strict=True):
            value = _first_text(rule, name, text, program, record, on_error)
            if value is not None:
                fields.append((name, value))
        return cls(match, derive(record), title or rule.name, tuple(fields))


_ISOLATED: dict[str, Sandbox] = {}  # unproven title/field program text -> its isolation child
_OVERRUNS: dict[str, int] = {}      # unproven title/field program text -> overruns so far


def _first_text(rule: Rule, what: str, text: str, program: Any, record: dict[str, Any],
                on_error: ErrorHandler) -> str | None:
    """The program's first output as text; an unproven program is evaluated isolated, under a budget."""
    if not analyse(text).proven:
        return _isolated_text(rule, what, text, record, on_error)
    try:
        for value in program.input_value(record):
            return None if value is None else as_text(value)
    except ValueError as exc:
        on_error(rule, what, str(exc))
    return None


def _isolated_text(rule: Rule, what: str, text: str, record: dict[str, Any],
                   on_error: ErrorHandler) -> str | None:
    """As the engine treats an unproven rule: the full budget for the first ``MAX_OVERRUNS`` overruns of
    a program (in this container), then halved at each further one down to ``STRAINED_BUDGET``, so a
    slow title on thousands of matches costs ~0.15 s each, and the invocation's deadline bounds the rest."""
    from tattletail.engine import MAX_OVERRUNS, STRAINED_BUDGET, default_budget  # engine imports alerts

    sandbox = _ISOLATED.get(text)
    if sandbox is None:
        sandbox = _ISOLATED[text] = Sandbox([text])
    full = default_budget()
    beyond = _OVERRUNS.get(text, 0) - MAX_OVERRUNS
    budget = full if beyond < 0 else max(min(STRAINED_BUDGET, full), full * 0.5 ** (beyond + 1))
    try:
        [(_, outcome)] = sandbox.evaluate(record_text(record), [0], budget)
    except SandboxBroken as exc:
        on_error(rule, what, f"cannot be evaluated safely: {exc}")
        return None
    if outcome.kind == "output":
        return None if outcome.value is None else as_text(outcome.value)
    if outcome.kind == "overrun":
        _OVERRUNS[text] = _OVERRUNS.get(text, 0) + 1
        on_error(rule, what, f"{outcome.message} (not proven to end quickly, so evaluated isolated; "
                             f"overrun {_OVERRUNS[text]})")
    elif outcome.kind != "none":
        on_error(rule, what, outcome.message)
    return None


@dataclass(frozen=True)
class Digest:
    """Many matches of one rule in one log file, summarised in one message (flood control)."""

    rule: Rule
    source: str                      # the log object they came from
    count: int
    first: tuple[Alert, ...]         # the first few, shown with their facts
    by_who: tuple[tuple[str, int], ...]
    by_event: tuple[tuple[str, int], ...]

    @property
    def title(self) -> str:
        return f"{self.count} × {self.rule.name}"


@dataclass(frozen=True)
class View:
    """How one destination shows alerts: its time zone and language."""

    timezone: str = "UTC"
    language: str = "en"

    def label(self, key: str) -> str:
        return label(key, self.language)

    def time(self, moment: datetime | None) -> str | None:
        """``2026-11-20 18:01:40 JST``: the reader's local time, with the zone shown."""
        if moment is None:
            return None
        local = moment.astimezone(ZoneInfo(self.timezone))
        zone = local.strftime("%Z")
        if not zone or zone[0] in "+-":
            zone = f"UTC{local.strftime('%z')[:3]}:{local.strftime('%z')[3:]}"
        return f"{local:%Y-%m-%d %H:%M:%S} {zone}"

    def severity(self, alert: Alert) -> str | None:
        return self.label(alert.severity) if alert.severity else None

    def facts(self, alert: Alert) -> list[tuple[str, str]]:
        """(label, value) of every fact present, in reading order: when, what, who, where, outcome."""
        f = alert.facts
        rows = [
            ("time", self.time(f.time) or (alert.record.get("eventTime") if isinstance(alert.record, dict) else None)),
            ("event", f.event_name),
            ("who", f.who.display()),
            ("source_ip", f.source_ip),
            ("target", f.target),
            ("account", f.account),
            ("region", f.region),
            ("service", f.event_source),
            ("identity_type", f.who.type),
            ("user_agent", f.user_agent),
        ]
        if f.failed:
            error = " ".join(x for x in (f.error_code, f.error_message) if x)
            rows.append(("error", error))
        return [(self.label(key), one_line(str(value))) for key, value in rows if value]

    def fields(self, alert: Alert) -> list[tuple[str, str]]:
        """The rule's own fields, each on one line (a value cannot forge a row)."""
        return [(one_line(name), one_line(value)) for name, value in alert.fields]

    def rows(self, alert: Alert) -> list[tuple[str, str]]:
        """The facts then the rule's own fields, each value on one line."""
        return self.facts(alert) + self.fields(alert)

    def summary(self, alert: Alert) -> str:
        """One line for subjects and notifications: ``[High] title: event (by who)``, leaving out
        what the title already says."""
        head = f"[{self.severity(alert)}] " if alert.severity else ""
        facts = alert.facts
        event = facts.event_name if facts.event_name and facts.event_name not in alert.title else None
        who = facts.who.display()
        by = f"({self.label('by')} {who})" if who and who not in alert.title else None
        line = head + alert.title
        if event:
            line += f": {event}"
        return one_line(f"{line} {by}" if by else line)

    def plain_text(self, alert: Alert) -> str:
        """The whole alert as plain text (email bodies, SNS to email)."""
        lines = [self.summary(alert), ""]
        lines.append(f"{self.label('rule')}: {one_line(alert.rule.name)}")
        if alert.severity:
            lines.append(f"{self.label('severity')}: {self.severity(alert)}")
        if alert.rule.description:
            lines.append(f"{self.label('description')}: {visible(alert.rule.description)}")
        if alert.annotation is not None:
            lines.append(f"{self.label('match')}: {one_line(alert.annotation)}")
        rows = self.rows(alert)
        if rows:
            width = max(_display_width(name) for name, _ in rows)
            lines.append("")
            lines += [f"{name}{' ' * (width - _display_width(name))}  {value}" for name, value in rows]
        links = self.links(alert)
        if links:
            lines.append("")
            lines += [f"{name}: {url}" for name, url in links]
        lines += ["", f"{self.label('record')}:", pretty_json(alert.record), ""]
        return "\n".join(lines)

    def digest_summary(self, digest: Digest) -> str:
        head = f"[{self.label(digest.rule.severity)}] " if digest.rule.severity else ""
        return one_line(f"{head}{digest.title} {self.label('digest_in')}")

    def digest_line(self, alert: Alert) -> str:
        f = alert.facts
        parts = [self.time(f.time) or "-", f.event_name or "-", f.who.display() or "-"]
        if f.target:
            parts.append(f.target)
        if alert.annotation is not None:
            parts.append(alert.annotation)
        return one_line(" | ".join(parts))

    def digest_text(self, digest: Digest) -> str:
        lines = [self.digest_summary(digest), "", f"{self.label('rule')}: {one_line(digest.rule.name)}"]
        if digest.rule.description:
            lines.append(f"{self.label('description')}: {visible(digest.rule.description)}")
        lines += [f"{self.label('object')}: {one_line(digest.source)}", f"{self.label('count')}: {digest.count}",
                  "", f"{self.label('first_matches')}:"]
        lines += [f"  {self.digest_line(alert)}" for alert in digest.first]
        for key, counts in (("by_who", digest.by_who), ("by_event", digest.by_event)):
            lines += ["", f"{self.label(key)}:"] + [f"  {n:>6}  {one_line(value)}" for value, n in counts]
        return "\n".join(lines) + "\n"

    def links(self, alert: Alert) -> list[tuple[str, str]]:
        found = []
        if alert.rule.runbook:
            found.append((self.label("runbook"), alert.rule.runbook))
        if alert.facts.console_url:
            found.append((self.label("console"), alert.facts.console_url))
        return found


def _display_width(text: str) -> int:
    """Columns a label takes in a monospace font (CJK characters take two)."""
    return sum(2 if ord(ch) > 0x1100 else 1 for ch in text)
