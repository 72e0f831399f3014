"""``tattletail check``: validate a configuration and list every problem at once.

Problems (exit 1) make the config unusable: TOML syntax, unknown, missing and mistyped keys, unknown
destinations, jq programs and regex literals that do not compile. Warnings (exit 0 alone) are printed before
the summary, and after the problems when there are some (a fix does not reveal more to fix): what loads but
is surely not meant (``.Records`` in a rule, a rule matching everything, one with
no destinations, no rules at all, a placeholder webhook URL)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from typing import Any, TextIO

from tattletail.commands.common import DEFAULT_CONFIG, load_config
from tattletail.engine import isolation_notes
from tattletail.jq.prefilter import necessary_condition


def _values(values: Iterable[Any]) -> str:
    """The values a prefilter wants, as jq writes them (``"ssm.amazonaws.com", "ec2.amazonaws.com"``), not as
    a Python list."""
    return ", ".join(sorted(json.dumps(value, ensure_ascii=False, default=str) for value in values))


def cmd_check(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    config = load_config(args.config, err, resolve=args.resolve)
    if config is None:
        return 1
    refs = f", {len(config.references)} secret references" + (" read" if args.resolve else " (syntax checked)")
    warned = f", {len(config.warnings)} warning(s)" if config.warnings else ""
    print(config.summary() + (refs if config.references else "") + warned, file=out)
    for note in isolation_notes(config.rules):
        print(f"note: {note}", file=out)
    if args.explain:
        for rule in config.rules:
            condition = necessary_condition(rule.jq_match)
            skip = " or ".join(f"{'.'.join(path)} in {_values(values)}" for path, values in condition or ())
            print(f"  {rule.name}: {rule.engine_reason}" + (f"; evaluated only when {skip}" if skip else ""), file=out)
        for correlation in config.correlations:
            print(f"  correlation {correlation.explain()}", file=out)
    return 0


def register(sub: Any) -> None:
    check = sub.add_parser("check", help="validate a configuration; list every problem")
    check.add_argument("config", nargs="?", default=DEFAULT_CONFIG,
                       help=f"the config file, or a directory holding {DEFAULT_CONFIG} (default: {DEFAULT_CONFIG})")
    check.add_argument("--resolve", action="store_true", help="read the referenced secrets (SSM, Secrets Manager)")
    check.add_argument("--explain", action="store_true",
                       help="say per rule which engine runs it (compiled Python or libjq) and its prefilter, "
                            "and per correlation what it counts")
    check.set_defaults(func=cmd_check)
