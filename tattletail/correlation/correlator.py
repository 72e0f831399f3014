"""Base-rule matches in, correlation alerts out.

``observe(match)`` places a match of a base rule in each correlation that uses it (``window.place``),
adds it to the window's state, and when the window's condition is met returns a ``Match`` of the
correlation's ``alert_rule`` on a *summary record* (what was counted, the group, the window, first and
last event time, a few samples). That match goes to delivery like any other; its ``eventID`` is made
from (correlation, group, window), so its delivery key is the same in every invocation and the
delivery claim lets one alert out per window, whoever saw the condition met. ``settle`` marks the
windows that fired, once their alerts were delivered (or dead-lettered): then later records of the
window are not even counted.

Lateness: with a ``clock`` (the Lambda), a record whose window ended more than the correlation's
``lateness`` ago is not counted (logged ``correlation_record_late``): its window's state may be gone.
Without one (``run``, ``replay``, ``test``: history in event-time order) every record counts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from tattletail import log
from tattletail.correlation.model import Correlation, show_duration
from tattletail.correlation.state import MemoryWindows, Windows
from tattletail.correlation.window import Entry, WindowState, count, evidence, iso, met, place
from tattletail.rules import Match

SAMPLES = 5
VALUES_SHOWN = 20
KEEP_SECONDS = 24 * 3600  # a window's item outlives its last possible change by a day


class Correlator:
    """The correlations of one invocation (or one ``run``/``replay``)."""

    def __init__(self, correlations: Iterable[Correlation], windows: Windows | None = None, *,
                 clock: Callable[[], float] | None = None) -> None:
        self.correlations = tuple(correlations)
        self.windows: Windows = windows if windows is not None else MemoryWindows()
        self.clock = clock
        self.by_rule: dict[str, list[Correlation]] = {}
        for correlation in self.correlations:
            for rule in correlation.rules:
                self.by_rule.setdefault(rule, []).append(correlation)
        self.fired: dict[str, int] = {}     # window key -> expires_at, fired in this run
        self.pending: dict[str, int] = {}   # fired, not yet settled
        self.late = 0
        self.unplaced = 0

    def uses(self, rule: str) -> bool:
        return rule in self.by_rule

    def observe(self, match: Match) -> list[Match]:
        """Count one base-rule match; the correlation alerts it completes (usually none)."""
        alerts = []
        for correlation in self.by_rule.get(match.rule.name, ()):
            entry = place(correlation, match.rule.name, match.record)
            if isinstance(entry, str):
                self.unplaced += 1
                log.emit("correlation_record_unplaced", logging.DEBUG, correlation=correlation.name,
                         rule=match.rule.name, event_id=match.record.get("eventID"), reason=entry)
                continue
            if entry.key in self.fired:
                continue
            end = entry.start + correlation.timespan
            if self.clock is not None and self.clock() > end + correlation.lateness:
                self.late += 1
                log.emit("correlation_record_late", logging.WARNING, correlation=correlation.name,
                         event_id=match.record.get("eventID"), event_time=match.record.get("eventTime"),
                         window_end=iso(end), lateness=show_duration(correlation.lateness))
                continue
            expires_at = end + correlation.lateness + KEEP_SECONDS
            state = self.windows.add(entry, expires_at)
            if state is None or not met(correlation, state):
                continue
            self.fired[entry.key] = self.pending[entry.key] = expires_at
            log.emit("correlation_fired", correlation=correlation.name, window_start=iso(entry.start),
                     count=count(correlation, state))
            record = summary(correlation, entry, state)
            alerts.append(Match(correlation.alert_rule, record, record, None))
        return alerts

    def settle(self, delivered: bool) -> None:
        """The alerts of this object were delivered (or kept as dead letters): close their windows.
        When they were not (the invocation will be retried), the windows stay open so the retry fires
        them again and delivery sends what is still unsent."""
        pending, self.pending = self.pending, {}
        if not delivered:
            for key in pending:
                self.fired.pop(key, None)
            return
        for key, expires_at in pending.items():
            self.windows.done(key, expires_at)


def _show(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def summary(correlation: Correlation, entry: Entry, state: WindowState) -> dict[str, Any]:
    """The record a correlation alert shows: what was counted, where and when."""
    n = count(correlation, state)
    found = evidence(state)
    span = show_duration(correlation.timespan)
    group_text = ", ".join(f"{name} = {_show(value)}" for name, value in entry.group) or "all records"
    if correlation.type == "event_count":
        headline = f"{n} events"
        counted = f"{headline} (condition: {correlation.condition})"
    elif correlation.type == "value_count":
        assert correlation.field is not None
        headline = f"{n} distinct {correlation.field.text}"
        counted = f"{headline} (condition: {correlation.condition})"
    else:
        seen = sorted({e.rule for e in found if 0 <= e.rule < len(correlation.rules)})
        order = " then " if correlation.type == "temporal_ordered" else ", "
        headline = f"{n} of {len(correlation.rules)} rules{' in order' if order == ' then ' else ''}"
        counted = f"{headline}: " + order.join(correlation.rules[i] for i in seen)
    values = sorted(state.counted)[:VALUES_SHOWN] if correlation.type == "value_count" else None
    samples = [e.line() for e in found[:SAMPLES]]
    record: dict[str, Any] = {
        "eventID": entry.key.replace("|", "-"),
        "eventTime": iso(entry.start),
        "correlation": correlation.name,
        "correlation_type": correlation.type,
        "title": f"{correlation.name}: {headline} for {group_text} within {span}",
        "counted": counted,
        "count": n,
        "condition": correlation.condition,
        "group": dict(entry.group),
        "group_text": group_text,
        "window": {"start": iso(entry.start), "end": iso(entry.start + correlation.timespan)},
        "window_text": f"{iso(entry.start)} to {iso(entry.start + correlation.timespan)} ({span})",
        "first_event_time": found[0].time if found else None,
        "last_event_time": found[-1].time if found else None,
        "samples": samples,
        "samples_text": "\n".join(samples) or None,
    }
    if values is not None:
        record["values"] = values
    return record
