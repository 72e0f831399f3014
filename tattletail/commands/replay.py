"""``tattletail replay``: how often would each rule have fired over history, and with what?

Files are spread over worker processes (``--workers``, all cores by default; see ``parallel``); each
file goes through ``pipeline.process_ref``, the path the Lambda takes, and comes back as its
``Report`` with the annotations seen and, when asked, the matches themselves. With ``--send`` the files are
read in this process, through one dispatcher: its state delivers a record found in two files once.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Iterable
from typing import Any, TextIO

from tattletail.alerts.alert import as_text
from tattletail.commands import common
from tattletail.commands.common import (
    DEFAULT_CONFIG,
    WindowEngine,
    discover,
    history_args,
    load_config,
    named_files,
)
from tattletail.commands.parallel import run_files
from tattletail.commands.rows import jsonl, match_row
from tattletail.correlation import history as correlation_history
from tattletail.delivery.dispatch import Dispatcher
from tattletail.delivery.report import Report, RuleErrors, Totals
from tattletail.inputs.history import LogRef
from tattletail.pipeline import process_ref
from tattletail.rules import Match


class ReplayJob:
    """One file of a replay: evaluated (and delivered with ``--send``), annotations counted."""

    def __init__(self, engine: WindowEngine, dispatcher: Dispatcher | None, keep_rows: bool,
                 bases: frozenset[str] = frozenset(), read_keys: dict[str, frozenset[str]] | None = None) -> None:
        self.engine, self.dispatcher, self.keep_rows = engine, dispatcher, keep_rows
        self.bases = bases  # base rules of correlations: their matches go back to be correlated
        self.read_keys = read_keys or {}  # base rule -> the record keys its correlations read

    def __call__(self, ref: LogRef, s3: Any) -> Report:
        rows: list[dict[str, Any]] = []
        notes: list[tuple[str, str]] = []
        bases: list[tuple[str, dict[str, Any]]] = []

        def on_match(match: Match, index: int) -> None:
            if match.rule.name in self.bases:
                bases.append((match.rule.name, correlation_history.slim(match.record, self.read_keys[match.rule.name])))
            if match.annotation is not None:
                notes.append((match.rule.name, as_text(match.annotation)))
            if self.keep_rows:
                rows.append(match_row(match.rule.name, ref.name, index, match.record, match.value))

        self.engine.undated = RuleErrors()  # per file (a worker runs its files one after another)
        report = process_ref(ref, self.engine, dispatcher=self.dispatcher, on_match=on_match, s3=s3)
        report.undated = self.engine.undated
        for rule, note in notes:
            report.annotate(rule, note)
        report.rows = rows
        report.base_matches = bases
        return report


class Progress:
    """A one-line progress display on a terminal (nothing when output is not a terminal)."""

    def __init__(self, total: int, stream: TextIO = sys.stderr) -> None:
        self.total, self.stream = total, stream
        self.files = self.records = self.matches = 0
        self.enabled = stream.isatty()
        self.started = time.monotonic()
        self._shown = 0.0

    def update(self, report: Report) -> None:
        self.files += 1
        self.records += report.records
        self.matches += report.match_count
        now = time.monotonic()
        if self.enabled and (now - self._shown > 0.1 or self.files == self.total):
            self._shown = now
            width = 30
            filled = width * self.files // max(self.total, 1)
            rate = self.records / max(now - self.started, 1e-9)
            self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] files {self.files}/{self.total}  "
                              f"records {self.records:,}  matches {self.matches:,}  ({rate:,.0f} records/s)")
            self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")



def summary_table(totals: Totals, rule_names: Iterable[str], top: int = 3, sent: bool = False) -> str:
    """Matches per rule (every rule, quiet ones too) with its share of the records read and the top
    annotation values, then each failing rule's errors (count, first message, first eventID); with
    ``sent`` (``--send``), the alerts delivered and the deliveries that failed, as ``run`` says them."""
    names = list(rule_names)
    width = max([len(n) for n in names] + [4])
    records = max(totals.records, 1)
    lines = [f"{'rule'.ljust(width)}  {'matches':>9}  {'records':>8}", f"{'-' * width}  {'-' * 9}  {'-' * 8}"]
    for name in sorted(names, key=lambda n: (-totals.matches[n], n)):
        share = 100 * totals.matches[name] / records
        lines.append(f"{name.ljust(width)}  {totals.matches[name]:>9,}  {share:>7.2f}%")
        for value, count in totals.annotations.get(name, Counter()).most_common(top):
            lines.append(f"{'':{width}}  {count:>9,}  {value}")
    lines.append("")
    for name, errors in sorted(totals.rule_errors.items()):
        lines.append(f"rule errors: {name!r}: {errors.count:,} (first: {errors.first_message}; "
                     f"eventID {errors.first_event_id or '-'})")
    lines.append(f"{totals.objects:,} files, {totals.records:,} records, {totals.match_count:,} matches, "
                 f"{totals.rule_error_count:,} rule errors, {len(totals.errors)} unreadable, "
                 f"{len(totals.skipped)} skipped"
                 + (f", {totals.counts['bad_records']:,} records unreadable" if totals.counts["bad_records"] else "")
                 + (f", {totals.counts['alerts_delivered']:,} alerts delivered, {len(totals.failures)} failed "
                    "deliveries" if sent else ""))
    return "\n".join(lines)


def summary_json(totals: Totals, rule_names: Iterable[str], top: int = 3) -> str:
    """What ``summary_table`` shows, as one JSON object (``--format json``) for scripts."""
    records = max(totals.records, 1)
    rules = [{"rule": name, "matches": totals.matches[name],
              "share": round(totals.matches[name] / records, 6),
              "annotations": [{"value": value, "count": count}
                              for value, count in totals.annotations.get(name, Counter()).most_common(top)]}
             for name in sorted(rule_names, key=lambda n: (-totals.matches[n], n))]
    errors = [{"rule": name, "count": e.count, "first_message": e.first_message, "first_event_id": e.first_event_id}
              for name, e in sorted(totals.rule_errors.items())]
    return json.dumps({"rules": rules, "rule_errors": errors, "files": totals.objects, "records": totals.records,
                       "matches": totals.match_count, "unreadable": totals.errors, "skipped": totals.skipped,
                       "failed_deliveries": [str(f) for f in totals.failures],
                       "unreadable_event_times": totals.undated.count,
                       "unreadable_records": totals.counts["bad_records"],
                       "alerts_delivered": totals.counts["alerts_delivered"]}, indent=2, ensure_ascii=False)


def print_rows(rows: Iterable[dict[str, Any]], out: TextIO) -> None:
    for row in rows:
        out.write(jsonl(row) + "\n")


def cmd_replay(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    config = load_config(args.config, err, resolve=args.send, sending=args.send)
    if config is None:
        return 1
    found = discover(args, err)
    if found is None:
        return 1
    refs, since, until = found
    if not refs:  # said by discover: nothing to replay is a mistake to show (exit 1), as for run and backfill
        return 1
    totals = Totals()
    progress = Progress(len(refs), err)
    engine = WindowEngine(config.rules, since, until)
    dispatcher = Dispatcher(config) if args.send else None
    bases = frozenset(correlation_history.base_rules(config.correlations))
    job = ReplayJob(engine, dispatcher, args.format == "jsonl", bases,
                    correlation_history.read_keys(config.correlations))
    base_matches: list[tuple[str, dict[str, Any]]] = []
    # --send delivers through one dispatcher, whose state skips a record already delivered: worker
    # processes would each have their own, and a record in two files would be sent twice
    workers = 1 if args.send else args.workers
    named, named_skipped = named_files(args.sources), []
    for report in run_files(job, refs, workers=workers):
        if report.skipped and report.name in named:
            named_skipped.append(report.skipped)
        base_matches += report.base_matches
        report.base_matches = []
        totals.add(report)
        progress.update(report)
        if args.format == "jsonl":
            print_rows(report.rows, out)
    progress.close()
    if config.correlations:  # over all files at once, in event-time order: the same whatever --workers
        rows: list[dict[str, Any]] = []
        correlated = correlation_history.correlate(
            config.correlations, config.rules, base_matches, dispatcher=dispatcher,
            on_alert=lambda alert: rows.append(match_row(alert.rule.name, "(correlation)", len(rows),
                                                         alert.record, alert.value)))
        totals.matches.update(correlated.matches)
        totals.failures += correlated.failures
        for name in ("deliveries", "alerts_delivered", "duplicates", "digests", "dead_lettered",
                     "correlation_unplaced"):
            totals.counts[name] += getattr(correlated, name)
        if args.format == "jsonl":
            print_rows(rows, out)
    for skipped in named_skipped:
        print(f"skipped: {skipped}", file=err)
    for error in totals.errors:
        print(f"error: {error}", file=err)
    for failure in totals.failures:
        print(f"delivery failed: {failure}", file=err)
    if totals.undated.count:
        print(common.undated_line(totals.undated), file=err)
    names = [r.name for r in config.rules] + [c.name for c in config.correlations]
    if args.format == "json":
        print(summary_json(totals, names), file=out)
    else:
        print(summary_table(totals, names, sent=args.send), file=err if args.format == "jsonl" else out)
    # as ``run``: a rule error is not clean, nor records that could not be read or placed in the window
    # and, as ``run``: a file named that is no log, or no log file at all, is no clean replay
    return 1 if (totals.errors or totals.failures or totals.rule_errors or totals.undated.count
                 or totals.counts["bad_records"] or named_skipped or not refs) else 0


def register(sub: Any) -> None:
    rep = sub.add_parser("replay", help="evaluate a config over history (files, directories, s3://) and "
                                        "show how often each rule would fire")
    rep.add_argument("--config", default=DEFAULT_CONFIG)
    rep.add_argument("--send", action="store_true", help="deliver the matches (default: count them only); "
                                                         "in this process, --workers is ignored")
    rep.add_argument("--format", choices=("table", "json", "jsonl"), default="table",
                     help="table: matches per rule (default); json: the same as one JSON object; "
                          "jsonl: one JSON object per match (the table goes to stderr)")
    history_args(rep)
    rep.set_defaults(func=cmd_replay)
