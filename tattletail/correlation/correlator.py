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
Without one (``run``, ``replay``, ``test``: history in event-time order) every record counts. A late
record still looks at its window (``Windows.peek``, once per window and run): a window whose count met
the condition but was never marked done fired an alert that was neither delivered nor dead-lettered
(the delivery failed, or the invocation died), so it fires again and the retry delivers it; the
delivery claim keeps that to once.

Records that count nowhere (no readable ``eventTime``, no value for a ``group_by`` path or ``field``)
and late records are counted per correlation and reason; ``settle`` logs them
(``correlation_records_unplaced``, ``correlation_records_late``) and adds them to the object's report.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from tattletail import log
from tattletail.correlation.model import Correlation, show_duration
from tattletail.correlation.state import MemoryWindows, Windows
from tattletail.correlation.window import (
    HIDDEN,
    Entry,
    WindowState,
    count,
    evidence,
    iso,
    met,
    overlapping,
    place,
    prunable,
    shifted,
)
from tattletail.delivery.report import Report
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
        self.peeked: dict[str, bool] = {}  # window key -> whether a late record found it met (looked once)
        self.late: Counter[str] = Counter()                # correlation -> records too late, since settle
        self.unplaced: Counter[tuple[str, str]] = Counter()  # (correlation, reason) -> records, since settle

    def uses(self, rule: str) -> bool:
        return rule in self.by_rule

    def observe(self, match: Match) -> list[Match]:
        """Count one base-rule match; the correlation alerts it completes (usually none)."""
        alerts = []
        for correlation in self.by_rule.get(match.rule.name, ()):
            placed = place(correlation, match.rule.name, match.record)
            if isinstance(placed, str):
                self.unplaced[(correlation.name, placed)] += 1
                log.emit("correlation_record_unplaced", logging.DEBUG, correlation=correlation.name,
                         rule=match.rule.name, event_id=match.record.get("eventID"), reason=placed)
                continue
            for entry in (placed, shifted(correlation, placed)) if correlation.overlapping else (placed,):
                alerts.extend(self._count(correlation, entry, match, primary=entry is placed))
        return alerts

    def _count(self, correlation: Correlation, entry: Entry, match: Match, *, primary: bool) -> list[Match]:
        """Add one placed match to one window (of the aligned series when ``primary``: only there is a
        late record counted and logged, so each record counts once); the alert it completes, if any."""
        if entry.key in self.fired:
            return []
        end = entry.start + correlation.timespan
        expires_at = end + correlation.lateness + KEEP_SECONDS
        if self.clock is not None and self.clock() > end + correlation.lateness:
            if primary:
                self.late[correlation.name] += 1
                log.emit("correlation_record_late", logging.WARNING, correlation=correlation.name,
                         event_id=match.record.get("eventID"), event_time=match.record.get("eventTime"),
                         window_end=iso(end), lateness=show_duration(correlation.lateness))
            state = self._unsettled(correlation, entry.key)
            return [self._fire(correlation, entry, state, expires_at, again=True)] if state is not None else []
        state = self.windows.add(entry, expires_at)
        if state is None:
            return []
        counted, times = prunable(correlation, state)
        if counted or times:
            self.windows.prune(entry.key, counted, times)
        return [self._fire(correlation, entry, state, expires_at)] if met(correlation, state) else []

    def _unsettled(self, correlation: Correlation, key: str) -> WindowState | None:
        """The window of a late record when its count met the condition and it was never marked done:
        its alert was fired and not delivered. Read once per window and run."""
        if key in self.peeked:
            return None
        state = self.windows.peek(key)
        self.peeked[key] = state is not None and met(correlation, state)
        return state if self.peeked[key] else None

    def _fire(self, correlation: Correlation, entry: Entry, state: WindowState, expires_at: int, *,
              again: bool = False) -> Match:
        self.fired[entry.key] = self.pending[entry.key] = expires_at
        for key in overlapping(correlation, entry) if correlation.overlapping else ():  # one burst, one alert
            if key not in self.fired:
                self.fired[key] = self.pending[key] = expires_at + correlation.timespan
        log.emit("correlation_fired", correlation=correlation.name, window_start=iso(entry.start),
                 count=count(correlation, state), again=again)
        record = summary(correlation, entry, state)
        return Match(correlation.alert_rule, record, record, None)

    def settle(self, delivered: bool, report: Report | None = None) -> None:
        """The alerts of this object were delivered (or kept as dead letters): close their windows.
        When they were not (the invocation will be retried), the windows stay open so the retry fires
        them again (in time or late: ``_unsettled``) and delivery sends what is still unsent. The
        records that counted nowhere since the last call are logged and added to ``report``."""
        self._account(report)
        pending, self.pending = self.pending, {}
        if not delivered:
            for key in pending:
                self.fired.pop(key, None)
                self.peeked.pop(key, None)
            return
        for key, expires_at in pending.items():
            self.windows.done(key, expires_at)

    def _account(self, report: Report | None) -> None:
        unplaced, self.unplaced = self.unplaced, Counter()
        late, self.late = self.late, Counter()
        name = report.name if report is not None else None
        for (correlation, reason), n in sorted(unplaced.items()):
            log.emit("correlation_records_unplaced", logging.WARNING, object=name, correlation=correlation,
                     reason=reason, count=n)
        for correlation, n in sorted(late.items()):
            log.emit("correlation_records_late", logging.WARNING, object=name, correlation=correlation, count=n)
        if report is not None:
            report.correlation_unplaced += sum(unplaced.values())
            report.correlation_late += sum(late.values())


def _show(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _values(state: WindowState) -> list[str]:
    """Distinct values for people: the hidden user names (one value each) shown once, with their number."""
    hidden = sum(1 for value in state.counted if value.startswith(HIDDEN + "#"))
    shown = sorted(value for value in state.counted if not value.startswith(HIDDEN + "#"))
    return shown + ([f"{HIDDEN} (x{hidden}: unknown user names, each counted)"] if hidden else [])


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
        seen = sorted({int(m.partition("|")[0]) for m in state.counted if m.partition("|")[0].isdigit()})
        seen = [i for i in seen if 0 <= i < len(correlation.rules)]
        order = " then " if correlation.type == "temporal_ordered" else ", "
        headline = f"{n} of {len(correlation.rules)} rules{' in order' if order == ' then ' else ''}"
        counted = f"{headline}: " + order.join(correlation.rules[i] for i in seen)
    values = _values(state)[:VALUES_SHOWN] if correlation.type == "value_count" else None
    first = min(state.times) if state.times else None
    last = max(state.times) if state.times else None
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
        "first_event_time": iso(first) if first is not None else (found[0].time if found else None),
        "last_event_time": iso(last) if last is not None else (found[-1].time if found else None),
        "samples": samples,
        "samples_text": "\n".join(samples) or None,
    }
    if values is not None:
        record["values"] = values
    return record
