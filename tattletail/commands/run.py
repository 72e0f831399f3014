"""``tattletail run``: evaluate local CloudTrail log files with the Lambda's engine; deliver only with ``--send``."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from tattletail.alerts import facts
from tattletail.alerts.escape import one_line
from tattletail.commands.common import DEFAULT_CONFIG, OutputError, load_config, named_files
from tattletail.commands.rows import jsonl, match_row
from tattletail.delivery.report import Totals
from tattletail.engine import Engine
from tattletail.errors import SourceError
from tattletail.inputs import history
from tattletail.pipeline import process_ref
from tattletail.rules import Match


def _match_line(match: Match) -> str:
    record = match.record
    parts = [f"[{match.rule.name}]", str(record.get("eventTime") or "-"), str(record.get("eventName") or "-")]
    who = facts.identity(record).display()
    if who:
        parts.append(f"by {who}")
    line = " ".join(parts)
    if match.annotation is not None:
        note = match.annotation if isinstance(match.annotation, str) else json.dumps(match.annotation)
        line += f": {note}"
    return one_line(line)  # a terminal line: no escape sequence or line break from the event


def cmd_run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    config = load_config(args.config, err, resolve=args.send, sending=args.send)
    if config is None:
        return 1
    try:
        refs = history.discover(args.logfiles)
    except SourceError as exc:
        print(f"error: {exc}", file=err)
        return 1
    engine = Engine(config.rules, prefilter=not args.no_prefilter)
    dispatcher = None
    if args.send:  # the delivery machinery only when sending (start-up)
        from tattletail.delivery.dispatch import Dispatcher

        dispatcher = Dispatcher(config)
    totals = Totals()
    bases: set[str] = set()
    read_keys: dict[str, Any] = {}
    if config.correlations:
        from tattletail.correlation import history as correlation_history

        bases = correlation_history.base_rules(config.correlations)
        read_keys = correlation_history.read_keys(config.correlations)
    base_matches: list[tuple[str, dict[str, Any]]] = []
    reader_gone = False
    output_failed: OutputError | None = None
    named, named_skipped = named_files(args.logfiles), 0
    for ref in refs:
        def show(match: Match, index: int, name: str = ref.name) -> None:
            nonlocal reader_gone, output_failed
            if match.rule.name in bases:
                kept = correlation_history.slim(match.record, read_keys[match.rule.name])
                base_matches.append((match.rule.name, kept))
            if reader_gone:
                return
            if args.format == "jsonl":
                line = jsonl(match_row(match.rule.name, name, index, match.record, match.value))
            else:
                line = _match_line(match)
            try:
                print(line, file=out)
            except BrokenPipeError:  # `run ... | head`: process_ref would take it for the file's error
                reader_gone = True
            except OutputError as exc:  # a full disk: ours, not the file's; raised to stop reading it
                output_failed = exc
                raise

        report = process_ref(ref, engine, dispatcher=dispatcher, on_match=show)
        if output_failed is not None:
            raise output_failed  # the command stops, naming the output (commands.main)
        if reader_gone and not args.send:
            raise BrokenPipeError  # nobody reads the rest: stop quietly (commands.main)
        totals.add(report)
        if report.skipped:
            print(f"skipped: {report.skipped}", file=err)
            named_skipped += report.name in named
        elif report.error:
            print(f"error: {report.error}", file=err)
    if config.correlations:  # over every file at once, in event-time order (history imported above)
        def alert(match: Match) -> None:
            if args.format == "jsonl":
                row = match_row(match.rule.name, "(correlation)", 0, match.record, match.value)
                out.write(jsonl(row) + "\n")
            else:
                print(f"[{match.rule.name}] {match.record['title']}", file=out)

        correlated = correlation_history.correlate(config.correlations, config.rules, base_matches,
                                                   dispatcher=dispatcher, on_alert=alert)
        totals.matches.update(correlated.matches)
        totals.failures += correlated.failures
        totals.counts["alerts_delivered"] += correlated.alerts_delivered
    out.flush()
    for name, errors in sorted(totals.rule_errors.items()):
        print(f"rule {name!r} failed on {errors.count:,} records (first: {errors.first_message}; "
              f"eventID {errors.first_event_id or '-'})", file=err)
    parts = [f"{totals.objects} files", f"{totals.records} records", f"{totals.match_count} matches",
             f"{totals.rule_error_count} rule errors"]
    if totals.counts["bad_records"]:  # past a limit, not JSON, not an object: never evaluated
        parts.append(f"{totals.counts['bad_records']} records unreadable")
    if args.send:
        parts.append(f"{totals.counts['alerts_delivered']} alerts delivered")
    if totals.failures:
        parts.append(f"{len(totals.failures)} failed deliveries")
    print(", ".join(parts) if refs else "no CloudTrail log files found in " + ", ".join(args.logfiles), file=err)
    # a rule that failed at run time, or a record never evaluated, may hide what a rule exists to catch;
    # a file named that is no log, or nothing to read at all, is a mistake to show, not a clean run
    return 1 if (totals.errors or totals.failures or totals.rule_errors or totals.counts["bad_records"]
                 or named_skipped or not refs) else 0


def register(sub: Any) -> None:
    run = sub.add_parser("run", help="evaluate local CloudTrail log files (.json, .json.gz)")
    run.add_argument("--config", default=DEFAULT_CONFIG)
    run.add_argument("--send", action="store_true", help="deliver matches to the rules' destinations")
    run.add_argument("--no-prefilter", action="store_true", help="evaluate every rule on every record")
    run.add_argument("--format", choices=("text", "jsonl"), default="text",
                     help="jsonl: one JSON object per match (rule, file, index, eventID, match)")
    run.add_argument("logfiles", nargs="+", metavar="LOGFILE",
                     help="a log file (.json, .json.gz), a single record (.json), or a directory of them")
    run.set_defaults(func=cmd_run)
