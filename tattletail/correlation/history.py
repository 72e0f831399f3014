"""Correlations over history (``run``, ``replay``, ``test``): base-rule matches in event-time order.

Files are evaluated wherever they are (one process or many workers); what the correlations need, the
matches of their base rules, is gathered and fed to one ``Correlator`` afterwards in event-time order
(ties broken by record identity, then rule), so the alerts are the same whatever the number of workers
or the order of the files. Windows are in memory, and no lateness applies: in history every record
arrived in time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

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


def set_of(matches: Iterable[BaseMatch]) -> list[BaseMatch]:
    """The matches once each: the same record in two files (CloudTrail does that) counts once."""
    seen: dict[tuple[str, str], BaseMatch] = {}
    for rule, record in matches:
        seen.setdefault((rule, record_key(record)), (rule, record))
    return list(seen.values())
