"""``tattletail render``: print exactly what each destination would send for a record."""

from __future__ import annotations

import argparse
import gzip
import json
from typing import Any, TextIO

from tattletail.alerts.alert import Alert
from tattletail.commands.common import DEFAULT_CONFIG, load_config
from tattletail.engine import Engine
from tattletail.inputs.logfile import GZIP_MAGIC


def _records_of(path: str) -> list[dict[str, Any]]:
    """A single record, or every record of a log file (``{"Records": [...]}``, gzipped or not)."""
    with open(path, "rb") as fh:
        data = fh.read()
    if data[:2] == GZIP_MAGIC:
        data = gzip.decompress(data)
    document = json.loads(data)
    if isinstance(document, dict) and isinstance(document.get("Records"), list):
        return [r for r in document["Records"] if isinstance(r, dict)]
    if isinstance(document, dict):
        return [document]
    raise ValueError(f"{path}: expected a CloudTrail record or log file, found a JSON {type(document).__name__}")


def cmd_render(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    config = load_config(args.config, err)
    if config is None:
        return 1
    try:
        records = _records_of(args.event)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=err)
        return 1
    rules = [r for r in config.rules if args.rule in (None, r.name)]
    if not rules:
        print(f"no rule named {args.rule!r} (rules: {', '.join(repr(r.name) for r in config.rules)})", file=err)
        return 1
    engine = Engine(rules)
    shown = 0
    for record in records:
        for match in engine.evaluate(record, lambda rule, rec, message: print(
                f"rule {rule.name!r} failed on this record: {message}", file=err)):
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
    return 0


def register(sub: Any) -> None:
    render = sub.add_parser("render", help="print exactly what each destination would send for a record")
    render.add_argument("--config", default=DEFAULT_CONFIG)
    render.add_argument("--rule", help="only this rule")
    render.add_argument("--destination", help="only this destination id")
    render.add_argument("event", metavar="EVENT.json", help="a CloudTrail record, or a log file")
    render.set_defaults(func=cmd_render)
