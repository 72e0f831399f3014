"""``tattletail render``: print exactly what each destination would send for a record."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from tattletail.alerts.alert import Alert
from tattletail.commands.common import DEFAULT_CONFIG, load_config
from tattletail.engine import Engine
from tattletail.errors import SourceError
from tattletail.inputs import history
from tattletail.pipeline import process_ref
from tattletail.rules import Match


def cmd_render(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    config = load_config(args.config, err)
    if config is None:
        return 1
    rules = [r for r in config.rules if args.rule in (None, r.name)]
    if not rules:
        print(f"error: no rule named {args.rule!r} (rules: {', '.join(repr(r.name) for r in config.rules)})",
              file=err)
        return 2  # a bad argument
    if args.destination is not None and args.destination not in config.destinations:
        print(f"error: no destination {args.destination!r} (destinations: "
              f"{', '.join(repr(d) for d in config.destinations)})", file=err)
        return 2  # a bad argument
    try:
        refs = history.discover([args.event])
    except SourceError as exc:
        print(f"error: {exc}", file=err)
        return 1
    matches: list[Match] = []
    status = 0
    for ref in refs:
        report = process_ref(ref, Engine(rules), on_match=lambda match, index: matches.append(match))
        if report.error or report.skipped:
            print(f"error: {report.error or report.skipped}", file=err)
            status = 1
        for name, errors in report.rule_errors.items():
            print(f"rule {name!r} failed on this record: {errors.first_message}", file=err)
    shown = 0
    for match in matches:
        alert = Alert.of(match)
        for destination in config.destinations_of(match.rule):
            if args.destination not in (None, destination.id):
                continue
            print(f"=== rule {match.rule.name!r} -> destination {destination.id!r} ({destination.type}, "
                  f"{destination.view.language}, {destination.view.timezone}) ===", file=out)
            print(destination.preview(alert), file=out)
            print(file=out)
            shown += 1
    if not shown:
        print("nothing to render: no rule (of those selected) matches, or it has no such destination", file=err)
        return 1
    return status


def register(sub: Any) -> None:
    render = sub.add_parser("render", help="print exactly what each destination would send for a record")
    render.add_argument("--config", default=DEFAULT_CONFIG)
    render.add_argument("--rule", help="only this rule")
    render.add_argument("--destination", help="only this destination id")
    render.add_argument("event", metavar="EVENT.json", help="a CloudTrail record, or a log file")
    render.set_defaults(func=cmd_render)
