"""``tattletail run``: evaluate local CloudTrail log files with the Lambda's engine; deliver only with ``--send``."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from typing import Any, TextIO

from tattletail.alerts import facts
from tattletail.alerts.escape import one_line
from tattletail.commands.common import DEFAULT_CONFIG, load_config
from tattletail.commands.replay import match_row
from tattletail.delivery.dispatch import Dispatcher
from tattletail.engine import Engine
from tattletail.errors import SourceError
from tattletail.inputs.logfile import NotCloudTrail
from tattletail.pipeline import process_stream
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
    config = load_config(args.config, err, resolve=args.send)
    if config is None:
        return 1
    engine = Engine(config.rules, prefilter=not args.no_prefilter)
    dispatcher = Dispatcher(config) if args.send else None
    totals: Counter[str] = Counter()
    status = 0
    for path in args.logfiles:
        if args.format == "jsonl":
            def show(match: Match, index: int, path: str = path) -> None:
                out.write(json.dumps(match_row(match.rule.name, path, index, match.record, match.value),
                                     ensure_ascii=False) + "\n")
        else:
            def show(match: Match, index: int, path: str = path) -> None:
                print(_match_line(match), file=out)
        try:
            with open(path, "rb") as fh:
                report = process_stream(fh, path, config, engine, dispatcher=dispatcher, on_match=show)
        except NotCloudTrail as exc:
            print(f"skipped: {exc}", file=err)
            continue
        except (OSError, SourceError) as exc:
            print(f"error: {exc}", file=err)
            status = 1
            continue
        totals["files"] += 1
        totals["records"] += report.records
        totals["matches"] += sum(report.matches.values())
        totals["rule errors"] += sum(report.rule_errors.values())
        if report.failures:
            totals["failed deliveries"] += len(report.failures)
            status = 1
    out.flush()
    summary = ", ".join(f"{n} {what}" for what, n in totals.items())
    print(summary or "no files read", file=err)
    return status


def register(sub: Any) -> None:
    run = sub.add_parser("run", help="evaluate local CloudTrail log files (.json, .json.gz)")
    run.add_argument("--config", default=DEFAULT_CONFIG)
    run.add_argument("--send", action="store_true", help="deliver matches to the rules' destinations")
    run.add_argument("--no-prefilter", action="store_true", help="evaluate every rule on every record")
    run.add_argument("--format", choices=("text", "jsonl"), default="text",
                     help="jsonl: one JSON object per match (rule, file, index, eventID, match)")
    run.add_argument("logfiles", nargs="+", metavar="LOGFILE")
    run.set_defaults(func=cmd_run)
