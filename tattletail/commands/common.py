"""What several commands share: the default config path, loading it, the history arguments (with the
``eventTime`` window of ``--since``/``--until``), and saying what an AWS failure means."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any, TextIO

from tattletail import aws
from tattletail.config import loader as config_module
from tattletail.config import secrets
from tattletail.engine import Engine, ErrorHandler
from tattletail.errors import ConfigError, SourceError
from tattletail.inputs import history
from tattletail.rules import Match, Rule

DEFAULT_CONFIG = "tattletail.toml"


def parse_day(value: str) -> date:
    """A ``YYYY-MM-DD`` day, as ``--since``/``--until`` take it."""
    return datetime.strptime(value, "%Y-%m-%d").date()


def day_arg(value: str) -> date:
    """``parse_day`` for argparse: a bad day is a usage error (exit 2)."""
    try:
        return parse_day(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a day: YYYY-MM-DD") from None


def default_workers() -> int:
    """Processes for history commands: every core this process may use."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def load_config(path: str, err: TextIO, resolve: bool = False, sending: bool = False,
                warnings: bool = True) -> config_module.Config | None:
    """The config at ``path``, its problems printed when it has some, its warnings too. ``resolve``
    reads its secrets; ``sending`` refuses placeholders where a rule would send."""
    if os.path.isdir(path) and os.path.isfile(os.path.join(path, DEFAULT_CONFIG)):
        path = os.path.join(path, DEFAULT_CONFIG)
    try:
        config = config_module.load(path, resolve=secrets.Resolver() if resolve else None, sending=sending)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=err)
        print(f"{len(exc.problems)} problem(s) found", file=err)
        return None
    if warnings:
        for warning in config.warnings:
            print(f"warning: {warning}", file=err)
    return config


def discover(args: argparse.Namespace, err: TextIO) -> tuple[list[history.LogRef], date | None, date | None] | None:
    since, until = args.since, args.until
    try:
        refs = history.discover(args.sources, since, until)
    except SourceError as exc:
        print(f"error: {exc}", file=err)
        return None
    if not refs:
        print("no CloudTrail log files found in " + ", ".join(args.sources), file=err)
    return refs, since, until


def in_window(since: date | None, until: date | None) -> Callable[[dict[str, Any]], bool]:
    """Whether a record's ``eventTime`` falls in [since, until] (whole UTC days). The dates of the key
    layout only choose which files to read; a local file, or a file holding records of several days,
    is filtered here, record by record. A record without a readable time is outside any window."""
    low = since.isoformat() if since else ""
    high = (until + timedelta(days=1)).isoformat() if until else "~"

    def keep(record: dict[str, Any]) -> bool:
        when = record.get("eventTime")
        return isinstance(when, str) and low <= when < high

    return keep


class WindowEngine(Engine):
    """The Lambda's ``Engine``, evaluating only the records whose ``eventTime`` is in the window of
    ``--since``/``--until``: the others are read (and counted) but match nothing."""

    def __init__(self, rules: Sequence[Rule], since: date | None, until: date | None, **kwargs: Any) -> None:
        super().__init__(rules, **kwargs)
        self._keep = in_window(since, until) if since or until else None

    def evaluate(self, record: dict[str, Any], on_error: ErrorHandler | None = None) -> list[Match]:
        if self._keep is not None and not self._keep(record):
            return []
        return super().evaluate(record, on_error)


def aws_failure(exc: BaseException) -> str | None:
    """A one-line account of a botocore failure (no credentials, no region, a missing queue, denied),
    with what to do when that is clear; ``None`` for anything that is not one (a bug: let it show)."""
    if not type(exc).__module__.startswith(("botocore", "boto3")):
        return None
    name = type(exc).__name__
    if name in ("NoCredentialsError", "PartialCredentialsError"):
        return "no AWS credentials found (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
    if name == "NoRegionError":
        return "no AWS region set (set AWS_REGION or AWS_DEFAULT_REGION)"
    if aws.is_missing(exc) or "NonExistent" in aws.error_code(exc):
        return f"not found: {aws.describe(exc)}"
    return aws.describe(exc)


def history_args(parser: argparse.ArgumentParser, workers: bool = True) -> None:
    parser.add_argument("sources", nargs="+", metavar="SOURCE",
                        help="a log file, a directory of them, or s3://bucket/prefix")
    parser.add_argument("--since", type=day_arg, metavar="YYYY-MM-DD",
                        help="first day (UTC) of the records' eventTime (also picks the S3 date folders to read)")
    parser.add_argument("--until", type=day_arg, metavar="YYYY-MM-DD",
                        help="last day (UTC) of the records' eventTime, inclusive")
    if workers:
        parser.add_argument("--workers", type=int, default=default_workers(),
                            help="processes (default: all cores)")
