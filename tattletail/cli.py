"""The command line: ``tattletail check`` and ``tattletail run``.

``check`` validates a configuration and lists every problem at once. ``run`` evaluates local
CloudTrail log files with the same engine the Lambda uses and prints the matches; it sends them to
the configured destinations only with ``--send``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Sequence
from typing import TextIO

from tattletail import config as config_module
from tattletail import facts, log
from tattletail.cloudtrail import NotCloudTrail
from tattletail.engine import Engine
from tattletail.errors import ConfigError, SourceError
from tattletail.pipeline import process_stream
from tattletail.rules import Match

DEFAULT_CONFIG = "tattletail.toml"


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
    return line


def cmd_check(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        config = config_module.load(args.config)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=err)
        print(f"{len(exc.problems)} problem(s) found", file=err)
        return 1
    print(config.summary(), file=out)
    return 0


def cmd_run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        config = config_module.load(args.config)
    except ConfigError as exc:
        print("\n".join(exc.problems), file=err)
        return 1
    engine = Engine(config.rules, prefilter=not args.no_prefilter)
    totals: Counter[str] = Counter()
    status = 0
    for path in args.logfiles:
        try:
            with open(path, "rb") as fh:
                report = process_stream(fh, path, config, engine, send=args.send,
                                        on_match=lambda match: print(_match_line(match), file=out))
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tattletail", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    check = sub.add_parser("check", help="validate a configuration; list every problem")
    check.add_argument("config", nargs="?", default=DEFAULT_CONFIG)
    check.set_defaults(func=cmd_check)

    run = sub.add_parser("run", help="evaluate local CloudTrail log files (.json, .json.gz)")
    run.add_argument("--config", default=DEFAULT_CONFIG)
    run.add_argument("--send", action="store_true", help="deliver matches to the rules' destinations")
    run.add_argument("--no-prefilter", action="store_true", help="evaluate every rule on every record")
    run.add_argument("logfiles", nargs="+", metavar="LOGFILE")
    run.set_defaults(func=cmd_run)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    log.setup("WARNING")
    args = build_parser().parse_args(argv)
    return int(args.func(args, out, err))


if __name__ == "__main__":
    sys.exit(main())
