"""What several commands share: the default config path, loading it, the history arguments (with the
``eventTime`` window of ``--since``/``--until``), and saying what an AWS failure means."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, TextIO

from tattletail import aws
from tattletail.alerts.facts import parse_time
from tattletail.config import loader as config_module
from tattletail.config import secrets
from tattletail.delivery.report import RuleErrors
from tattletail.engine import Engine, ErrorHandler
from tattletail.errors import ConfigError, SourceError, TattletailError
from tattletail.inputs import history
from tattletail.rules import Match, Rule

DEFAULT_CONFIG = "tattletail.toml"


class OutputError(TattletailError):
    """Our own output could not be written (a full disk, a missing directory): it names the output, never
    the input being read when it happened, and ends the command (``main``: ``error: ...``, exit 1)."""

    def __init__(self, where: str, exc: OSError) -> None:
        super().__init__(f"{where}: {exc.strerror or exc}")


class Output:
    """A text stream whose write failures are ``OutputError``s naming it (``standard output``), so no
    command reports them as a traceback, nor blames them on the file it was reading. A closed pipe stays a
    ``BrokenPipeError``: the reader went away, which is no failure (``main`` ends quietly)."""

    def __init__(self, stream: TextIO, name: str = "standard output") -> None:
        self.stream, self.name = stream, name

    def write(self, text: str) -> int:
        try:
            return self.stream.write(text)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise OutputError(self.name, exc) from None

    def flush(self) -> None:
        try:
            self.stream.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise OutputError(self.name, exc) from None

    def isatty(self) -> bool:
        return self.stream.isatty()

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.stream.fileno()


def write_file(path: str, text: str, newline: str | None = None) -> None:
    """``text`` into the file at ``path`` (``-o``); a failure is an ``OutputError`` naming the path."""
    try:
        with open(path, "w", encoding="utf-8", newline=newline) as fh:
            fh.write(text)
    except OSError as exc:
        raise OutputError(path, exc) from None


def parse_day(value: str) -> date:
    """A ``YYYY-MM-DD`` day, as ``--since``/``--until`` take it."""
    return datetime.strptime(value, "%Y-%m-%d").date()


def day_arg(value: str) -> date:
    """``parse_day`` for argparse: a bad day is a usage error (exit 2)."""
    try:
        return parse_day(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a day: YYYY-MM-DD") from None


def source_arg(value: str) -> str:
    """A history source for argparse: an ``s3://`` source without a bucket is a usage error (exit 2)."""
    if value.startswith("s3://") and not value[5:].partition("/")[0]:
        raise argparse.ArgumentTypeError(f"{value!r} names no bucket: s3://bucket/prefix")
    return value


def workers_arg(value: str) -> int:
    """``--workers`` for argparse: a count of processes, at least one (0 or less is a usage error, exit 2)."""
    try:
        count = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of processes") from None
    if count < 1:
        raise argparse.ArgumentTypeError(f"{value!r}: at least 1 process")
    return count


def window_problem(args: argparse.Namespace) -> str | None:
    """Why ``--since``/``--until`` make no window (``--since`` after ``--until``: every record would be
    left out, silently), or ``None``; ``main`` makes it a usage error."""
    since, until = getattr(args, "since", None), getattr(args, "until", None)
    if since is not None and until is not None and since > until:
        return f"--since {since.isoformat()} is after --until {until.isoformat()}"
    return None


def default_workers() -> int:
    """Processes for history commands: every core this process may use."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def load_config(path: str, err: TextIO, resolve: bool = False, sending: bool = False,
                warnings: bool = True) -> config_module.Config | None:
    """The config at ``path``, its problems printed when it has some, its warnings too. ``resolve``
    reads its secrets; ``sending`` refuses placeholders where a rule would send."""
    if not path:  # `check ''`: the loader would read the current directory and blame a nameless file
        print("error: the config path is empty: name a config file (default: tattletail.toml)", file=err)
        return None
    if os.path.isdir(path) and os.path.isfile(os.path.join(path, DEFAULT_CONFIG)):
        path = os.path.join(path, DEFAULT_CONFIG)
    try:
        config = config_module.load(path, resolve=secrets.Resolver() if resolve else None, sending=sending)
    except ConfigError as exc:  # the problems first, then the warnings: one pass shows everything to fix
        for problem in exc.problems:
            print(problem, file=err)
        if warnings:
            for warning in exc.warnings:
                print(f"warning: {warning}", file=err)
        counted = f", {len(exc.warnings)} warning(s)" if warnings and exc.warnings else ""
        print(f"{len(exc.problems)} problem(s) found{counted}", file=err)
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


def named_files(sources: Sequence[str]) -> set[str]:
    """The ``LogRef`` names of the sources that name one file (not a directory or a prefix): such a file
    that is no CloudTrail log is a failure (exit 1), where one met in a directory is only counted."""
    names = set()
    for source in sources:
        if source.startswith("s3://"):
            if not source.endswith("/"):
                names.add(source)
        elif os.path.isfile(source):
            names.add(str(Path(source)))
    return names


def in_window(since: date | None, until: date | None) -> Callable[[Any], bool | None]:
    """Whether an ``eventTime`` falls in [since, until] (whole UTC days), compared as instants: CloudTrail's
    ``Z`` form, offsets (``+09:00``), fractional seconds and a bare date all read, a time without an
    offset is UTC. ``None`` when it cannot be read: the caller reports it, never guesses. The dates of the
    key layout only choose which files to read; a local file, or a file holding records of several days,
    is filtered here, record by record."""
    low = datetime.combine(since, time(), UTC) if since else None
    high = datetime.combine(until + timedelta(days=1), time(), UTC) if until else None

    def keep(when: Any) -> bool | None:
        moment = parse_time(when)
        if moment is None:
            return None
        return (low is None or low <= moment) and (high is None or moment < high)

    return keep


def undated_line(undated: RuleErrors) -> str:
    """The stderr line for records whose ``eventTime`` could not be placed in the window."""
    return (f"{undated.count:,} records with an unreadable eventTime were not evaluated (--since/--until cannot "
            f"place them; first: {undated.first_message}; eventID {undated.first_event_id or '-'})")


class WindowEngine(Engine):
    """The Lambda's ``Engine``, evaluating only the records whose ``eventTime`` is in the window of
    ``--since``/``--until``: the others are read (and counted) but match nothing. Those whose time
    cannot be read are tallied in ``undated`` (their count, the first value and eventID), to be reported."""

    def __init__(self, rules: Sequence[Rule], since: date | None, until: date | None, **kwargs: Any) -> None:
        super().__init__(rules, **kwargs)
        self._keep = in_window(since, until) if since or until else None
        self.undated = RuleErrors()

    def evaluate(self, record: dict[str, Any], on_error: ErrorHandler | None = None) -> list[Match]:
        if self._keep is not None:
            kept = self._keep(record.get("eventTime"))
            if kept is None:
                event_id = record.get("eventID")
                self.undated.add(f"eventTime {record.get('eventTime')!r}",
                                 event_id if isinstance(event_id, str) else None)
            if not kept:
                return []
        return super().evaluate(record, on_error)


def aws_failure(exc: BaseException) -> str | None:
    """A one-line account of a botocore failure, worded by ``aws.describe`` as everywhere else (no
    credentials, no region, a missing queue, denied); ``None`` for anything that is not one (a bug: let
    it show)."""
    return aws.describe(exc) if aws.is_aws_error(exc) else None


def history_args(parser: argparse.ArgumentParser, workers: bool = True) -> None:
    parser.add_argument("sources", nargs="+", metavar="SOURCE", type=source_arg,
                        help="a log file, a directory of them, or s3://bucket/prefix")
    parser.add_argument("--since", type=day_arg, metavar="YYYY-MM-DD",
                        help="first day (UTC) of the records' eventTime (also picks the S3 date folders to read)")
    parser.add_argument("--until", type=day_arg, metavar="YYYY-MM-DD",
                        help="last day (UTC) of the records' eventTime, inclusive")
    if workers:
        parser.add_argument("--workers", type=workers_arg, default=default_workers(),
                            help="processes (default: all cores)")
