"""What happened to one log object (``Report``), and to many (``Totals``): the one account of a run.

The Lambda logs a ``Report`` per object and returns ``Totals``; ``tattletail run`` and ``replay`` print
them; S3 Batch Operations results and SQS item failures are read from them. Every count is made in
one place (``pipeline`` evaluates, ``dispatch`` delivers), so the Lambda and the command line cannot
disagree about what a run did.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

ANNOTATION_WIDTH = 100  # annotations are summarised by their first characters


@dataclass
class RuleErrors:
    """A rule's runtime errors in one object: how many, and the first one (message and eventID)."""

    count: int = 0
    first_message: str = ""
    first_event_id: str | None = None

    def add(self, message: str, event_id: str | None, count: int = 1) -> None:
        if not self.count:
            self.first_message, self.first_event_id = message, event_id
        self.count += count


class _Counted:
    """What a report and a sum of reports both answer: matches and rule errors, counted."""

    matches: Counter[str]
    rule_errors: dict[str, RuleErrors]

    @property
    def match_count(self) -> int:
        return sum(self.matches.values())

    @property
    def rule_error_count(self) -> int:
        return sum(e.count for e in self.rule_errors.values())


@dataclass
class Report(_Counted):
    """What happened to one log object (or one group of records that arrived on their own)."""

    name: str
    records: int = 0
    matches: Counter[str] = field(default_factory=Counter)
    rule_errors: dict[str, RuleErrors] = field(default_factory=dict)
    bad_records: int = 0
    deliveries: int = 0           # messages sent (an alert, or a digest of many)
    alerts_delivered: int = 0     # (record, rule, destination) delivered, digests counted per member
    duplicates: int = 0           # skipped: delivered before, or twice in this object
    digests: int = 0
    dead_lettered: int = 0
    correlation_unplaced: int = 0  # base-rule matches a correlation could not place (no group_by value, ...)
    correlation_late: int = 0      # base-rule matches later than their correlation's lateness bound
    failures: list[str] = field(default_factory=list)   # neither delivered nor dead-lettered: retry
    error: str | None = None      # the object cannot be read, ever (corrupt, truncated): never retried
    skipped: str | None = None    # nothing to do: a digest file, not CloudTrail
    annotations: dict[str, Counter[str]] = field(default_factory=dict)  # filled by replay only
    rows: list[dict[str, Any]] = field(default_factory=list)            # kept matches, when asked
    base_matches: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # correlations' input (replay)
    undated: RuleErrors = field(default_factory=RuleErrors)  # --since/--until: eventTime unreadable, not evaluated
    started: float = field(default_factory=time.monotonic)

    def rule_error(self, rule: str, message: str, event_id: str | None) -> None:
        self.rule_errors.setdefault(rule, RuleErrors()).add(message, event_id)

    def annotate(self, rule: str, text: str) -> None:
        self.annotations.setdefault(rule, Counter())[text[:ANNOTATION_WIDTH]] += 1

    def fields(self) -> dict[str, Any]:
        """The report as a structured log line's fields."""
        return {
            "records": self.records,
            "matches": dict(self.matches),
            "rule_errors": {rule: e.count for rule, e in self.rule_errors.items()},
            "bad_records": self.bad_records,
            "deliveries": self.deliveries,
            "alerts_delivered": self.alerts_delivered,
            "duplicates": self.duplicates,
            "digests": self.digests,
            "dead_lettered": self.dead_lettered,
            "correlation_unplaced": self.correlation_unplaced,
            "correlation_late": self.correlation_late,
            "failures": self.failures,
            "error": self.error,
            "duration_ms": round((time.monotonic() - self.started) * 1000, 1),
        }

    def summary(self) -> str:
        """One line for people (S3 Batch results, the command line)."""
        if self.skipped:
            return f"skipped: {self.skipped}"
        return (f"{self.records} records, {self.match_count} matches, {self.alerts_delivered} alerts delivered, "
                f"{self.duplicates} duplicates, {self.dead_lettered} dead-lettered")


COUNTS = ("records", "bad_records", "deliveries", "alerts_delivered", "duplicates", "digests", "dead_lettered",
          "correlation_unplaced", "correlation_late")


@dataclass
class Totals(_Counted):
    """Reports added up: a Lambda invocation, a ``run`` or a ``replay``."""

    objects: int = 0
    skipped: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    matches: Counter[str] = field(default_factory=Counter)
    rule_errors: dict[str, RuleErrors] = field(default_factory=dict)
    annotations: dict[str, Counter[str]] = field(default_factory=dict)
    undated: RuleErrors = field(default_factory=RuleErrors)

    def add(self, report: Report) -> None:
        if report.skipped:
            self.skipped.append(report.skipped)
            return
        self.objects += 1
        for name in COUNTS:
            self.counts[name] += getattr(report, name)
        self.matches.update(report.matches)
        for rule, errors in report.rule_errors.items():
            self.rule_errors.setdefault(rule, RuleErrors()).add(errors.first_message, errors.first_event_id,
                                                                errors.count)
        for rule, counter in report.annotations.items():
            self.annotations.setdefault(rule, Counter()).update(counter)
        if report.undated.count:
            self.undated.add(report.undated.first_message, report.undated.first_event_id, report.undated.count)
        if report.error:
            self.errors.append(report.error)
        self.failures += report.failures

    @property
    def records(self) -> int:
        return self.counts["records"]

    def fields(self) -> dict[str, int]:
        """The totals the Lambda returns and logs."""
        return {"objects": self.objects, "records": self.records, "matches": self.match_count,
                **{name: self.counts[name] for name in COUNTS[2:]}}
