"""What several commands share: the default config path, loading it, and the history arguments."""

from __future__ import annotations

import argparse
import os
from datetime import date, datetime
from typing import TextIO

from tattletail.config import loader as config_module
from tattletail.config import secrets
from tattletail.errors import ConfigError, SourceError
from tattletail.inputs import history

DEFAULT_CONFIG = "tattletail.toml"


def parse_day(value: str) -> date:
    """A ``YYYY-MM-DD`` day, as ``--since``/``--until`` take it."""
    return datetime.strptime(value, "%Y-%m-%d").date()


def default_workers() -> int:
    """Processes for history commands: every core this process may use."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def load_config(path: str, err: TextIO, resolve: bool = False) -> config_module.Config | None:
    """The config at ``path``, its problems printed when it has some. ``resolve`` reads its secrets."""
    try:
        return config_module.load(path, resolve=secrets.Resolver() if resolve else None)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=err)
        print(f"{len(exc.problems)} problem(s) found", file=err)
        return None


def _dates(args: argparse.Namespace, err: TextIO) -> tuple[date | None, date | None] | None:
    try:
        since = parse_day(args.since) if args.since else None
        until = parse_day(args.until) if args.until else None
    except ValueError:
        print("--since and --until take a day: YYYY-MM-DD", file=err)
        return None
    return since, until


def discover(args: argparse.Namespace, err: TextIO) -> tuple[list[history.LogRef], date | None, date | None] | None:
    dates = _dates(args, err)
    if dates is None:
        return None
    try:
        refs = history.discover(args.sources, *dates)
    except SourceError as exc:
        print(f"error: {exc}", file=err)
        return None
    if not refs:
        print("no CloudTrail log files found in " + ", ".join(args.sources), file=err)
    return refs, *dates


def history_args(parser: argparse.ArgumentParser, workers: bool = True) -> None:
    parser.add_argument("sources", nargs="+", metavar="SOURCE",
                        help="a log file, a directory of them, or s3://bucket/prefix")
    parser.add_argument("--since", help="first day (YYYY-MM-DD, UTC) of the key layout's date folders")
    parser.add_argument("--until", help="last day (YYYY-MM-DD, UTC), inclusive")
    if workers:
        parser.add_argument("--workers", type=int, default=default_workers(),
                            help="processes (default: all cores)")
