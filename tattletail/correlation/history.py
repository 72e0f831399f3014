"""Correlations over history (``run``, ``replay``, ``test``): base-rule matches in event-time order.

Files are evaluated wherever they are (one process or many workers); what the correlations need, the
matches of their base rules, is gathered and fed to one ``Correlator`` afterwards in event-time order
(ties broken by record identity, then rule), so the alerts are the same whatever the number of workers
or the order of the files. Windows are in memory, and no lateness applies: in history every record
arrived in time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

import orjson

from tattletail.correlation.correlator import Correlator
from tattletail.correlation.model import Correlation
from tattletail.correlation.window import event_seconds
from tattletail.delivery.dispatch import Dispatcher
from tattletail.delivery.report import Report
from tattletail.delivery.state import record_key
from tattletail.rules import Match, Rule

BaseMatch = tuple[str, dict[str, Any]]  # (base rule name, record)


def base_rules(correlations: Iterable[Correlation]) -> set[str]:
    return {rule for correlation in correlations for rule in correlation.rules}


def _order(item: BaseMatch) -> tuple[float, str, str]:
    seconds = event_seconds(item[1])
    return (seconds if seconds is not None else float("inf"), record_key(item[1]), item[0])


def correlate(correlations: Iterable[Correlation], rules: Iterable[Rule], matches: Iterable[BaseMatch], *,
              dispatcher: Dispatcher | None = None, on_alert: Callable[[Match], None] | None = None,
              report: Report | None = None) -> Report:
    """Feed base-rule matches in event-time order; show each correlation alert to ``on_alert`` and
    deliver it with ``dispatcher``. The alerts are counted in the returned report's ``matches``."""
    correlator = Correlator(correlations)
    by_name = {rule.name: rule for rule in rules}
    report = report or Report("correlations")
    deliveries = dispatcher.for_object(report) if dispatcher is not None else None
    try:
        for rule, record in sorted(set_of(matches), key=_order):
            for alert in correlator.observe(Match(by_name[rule], record, True, None)):
                report.matches[alert.rule.name] += 1
                if on_alert is not None:
                    on_alert(alert)
                if deliveries is not None:
                    deliveries.add(alert)
    finally:
        if deliveries is not None:
            deliveries.flush()
        correlator.settle(not report.failures, report)
    return report


ALWAYS_READ = ("eventID", "eventTime", "eventName", "recipientAccountId", "userIdentity")  # window.place, facts
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def read_keys(correlations: Iterable[Correlation]) -> dict[str, frozenset[str]]:
    """Per base rule, the top-level record keys the correlations over it may read: those
    ``window.place`` always reads, and every name in their ``group_by`` (for that rule), ``field`` and
    ``weight`` programs (a jq program may read anything it names; names that are not top-level keys
    cost nothing)."""
    keys: dict[str, set[str]] = {}
    for correlation in correlations:
        for rule in correlation.rules:
            paths = [correlation.field, correlation.weight]
            paths += [dict(key.per_rule).get(rule, key.default) for key in correlation.group_by]
            found = keys.setdefault(rule, set(ALWAYS_READ))
            for path in paths:
                if path is not None:
                    found.update(_NAME.findall(path.text))
    return {rule: frozenset(names) for rule, names in keys.items()}


def slim(record: dict[str, Any], keys: frozenset[str]) -> dict[str, Any]:
    """The part of a base rule's record the correlations read, so ``run``/``replay`` keep that much per
    match, not whole records (100,000 AccessDenied records: see the README). A record without an
    ``eventID`` stays whole: its identity (``record_key``) is a hash of all of it."""
    event_id = record.get("eventID")
    if not isinstance(event_id, str) or not event_id:
        return record
    kept = {key: value for key, value in record.items() if key in keys}
    try:  # a compact copy: kept parts of the parsed file would pin its memory (allocator arenas) until the end
        copied: dict[str, Any] = orjson.loads(orjson.dumps(kept))
    except (TypeError, orjson.JSONEncodeError):  # values orjson cannot carry (big ints): kept as they are
        return kept
    return copied


def set_of(matches: Iterable[BaseMatch]) -> list[BaseMatch]:
    """The matches once each: the same record in two files (CloudTrail does that) counts once."""
    seen: dict[tuple[str, str], BaseMatch] = {}
    for rule, record in matches:
        seen.setdefault((rule, record_key(record)), (rule, record))
    return list(seen.values())
