"""Replay a config over history: how often would each rule have fired, and with what?

Files are spread over worker processes (``--workers``, all cores by default); each worker loads the
config once and evaluates whole files, returning counts, the annotations seen and, when asked, the
matches themselves. Results come back in file order, so output is the same with 1 or N workers.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

from tattletail.alerts.alert import as_text
from tattletail.commands.common import DEFAULT_CONFIG, discover, history_args, load_config
from tattletail.config import loader as config_module
from tattletail.config import secrets
from tattletail.delivery.dispatch import Dispatcher
from tattletail.engine import Engine
from tattletail.errors import SourceError
from tattletail.inputs.history import LogRef
from tattletail.inputs.logfile import NotCloudTrail, iter_records
from tattletail.pipeline import Report

ANNOTATION_WIDTH = 100


@dataclass
class FileResult:
    """What one file gave."""

    name: str
    records: int = 0
    matches: Counter[str] = field(default_factory=Counter)
    annotations: dict[str, Counter[str]] = field(default_factory=dict)
    rule_errors: int = 0
    rows: list[dict[str, Any]] = field(default_factory=list)  # jsonl matches, or report rows
    failures: list[str] = field(default_factory=list)
    error: str | None = None
    skipped: str | None = None


def match_row(rule: str, file: str, index: int, record: dict[str, Any], value: Any) -> dict[str, Any]:
    """One match as ``--format jsonl`` prints it."""
    return {"rule": rule, "file": file, "index": index, "eventID": record.get("eventID"), "match": value}


class _Worker:
    """Per-process state: the config and engine, loaded once."""

    config: config_module.Config | None = None
    engine: Engine | None = None
    dispatcher: Dispatcher | None = None  # one per process: duplicates across its files are sent once
    s3: Any = None


def _init(config_path: str | None, resolve: bool = False) -> None:
    if config_path is not None:
        _Worker.config = config_module.load(config_path, resolve=secrets.Resolver() if resolve else None)
        _Worker.engine = Engine(_Worker.config.rules)
        _Worker.dispatcher = Dispatcher(_Worker.config)


def evaluate_file(ref: LogRef, *, send: bool, keep_rows: bool) -> FileResult:
    """Evaluate one file with the worker's config (``_init`` first)."""
    config, engine = _Worker.config, _Worker.engine
    assert config is not None and engine is not None
    result = FileResult(ref.name)
    report = Report(ref.name)
    batch = _Worker.dispatcher.batch(ref.name, report) if send and _Worker.dispatcher else None

    def on_error(*_: Any) -> None:
        result.rule_errors += 1

    try:
        with ref.open(_Worker.s3) as stream:
            for index, record in enumerate(iter_records(stream, ref.name)):
                result.records += 1
                for match in engine.evaluate(record, on_error):
                    name = match.rule.name
                    result.matches[name] += 1
                    if match.annotation is not None:
                        note = as_text(match.annotation)[:ANNOTATION_WIDTH]
                        result.annotations.setdefault(name, Counter())[note] += 1
                    if keep_rows:
                        result.rows.append(match_row(name, ref.name, index, record, match.value))
                    if batch is not None:
                        batch.add(match, index)
    except NotCloudTrail as exc:
        result.skipped = str(exc)
    except (SourceError, OSError) as exc:
        result.error = str(exc)
    except Exception as exc:  # S3 errors (access denied, missing object) name the file and go on
        result.error = f"{ref.name}: {exc}"
    finally:
        if batch is not None:
            batch.flush()
    result.failures = report.failures
    return result


def _task(args: tuple[LogRef, bool, bool, Callable[..., FileResult]]) -> FileResult:
    ref, send, keep_rows, func = args
    return func(ref, send=send, keep_rows=keep_rows)


def run_files(config_path: str | None, refs: list[LogRef], *, workers: int, send: bool = False, keep_rows: bool = False,
              func: Callable[..., FileResult] = evaluate_file) -> Iterator[FileResult]:
    """``func`` over every file, in file order, on ``workers`` processes (1: in this process)."""
    tasks = [(ref, send, keep_rows, func) for ref in refs]
    if workers <= 1 or len(refs) <= 1:
        _init(config_path, send)
        yield from map(_task, tasks)
        return
    with multiprocessing.get_context("fork").Pool(workers, initializer=_init, initargs=(config_path, send)) as pool:
        yield from pool.imap(_task, tasks, chunksize=1)


class Progress:
    """A one-line progress display on a terminal (nothing when output is not a terminal)."""

    def __init__(self, total: int, stream: TextIO = sys.stderr) -> None:
        self.total, self.stream = total, stream
        self.files = self.records = self.matches = 0
        self.enabled = stream.isatty()
        self.started = time.monotonic()
        self._shown = 0.0

    def update(self, result: FileResult) -> None:
        self.files += 1
        self.records += result.records
        self.matches += sum(result.matches.values())
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


@dataclass
class Summary:
    files: int = 0
    records: int = 0
    rule_errors: int = 0
    matches: Counter[str] = field(default_factory=Counter)
    annotations: dict[str, Counter[str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def add(self, result: FileResult) -> None:
        self.files += 1
        self.records += result.records
        self.rule_errors += result.rule_errors
        self.matches.update(result.matches)
        for rule, counter in result.annotations.items():
            self.annotations.setdefault(rule, Counter()).update(counter)
        if result.error:
            self.errors.append(result.error)
        if result.skipped:
            self.skipped.append(result.skipped)
        self.failures += result.failures


def summary_table(summary: Summary, rule_names: Iterable[str], top: int = 3) -> str:
    """Matches per rule (every rule, quiet ones too) with the top annotation values of each."""
    names = list(rule_names)
    width = max([len(n) for n in names] + [4])
    lines = [f"{'rule'.ljust(width)}  {'matches':>9}", f"{'-' * width}  {'-' * 9}"]
    for name in sorted(names, key=lambda n: (-summary.matches[n], n)):
        lines.append(f"{name.ljust(width)}  {summary.matches[name]:>9,}")
        for value, count in summary.annotations.get(name, Counter()).most_common(top):
            lines.append(f"{'':{width}}  {count:>9,}  {value}")
    lines.append("")
    total = sum(summary.matches.values())
    lines.append(f"{summary.files:,} files, {summary.records:,} records, {total:,} matches, "
                 f"{summary.rule_errors:,} rule errors, {len(summary.errors)} unreadable, "
                 f"{len(summary.skipped)} skipped")
    return "\n".join(lines)


def print_rows(rows: Iterable[dict[str, Any]], out: TextIO) -> None:
    for row in rows:
        out.write(json.dumps(row, ensure_ascii=False) + "\n")


def cmd_replay(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    config = load_config(args.config, err, resolve=args.send)
    if config is None:
        return 1
    found = discover(args, err)
    if found is None:
        return 1
    refs = found[0]
    summary = Summary()
    progress = Progress(len(refs), err)
    for result in run_files(args.config, refs, workers=args.workers, send=args.send,
                                   keep_rows=args.format == "jsonl"):
        summary.add(result)
        progress.update(result)
        if args.format == "jsonl":
            print_rows(result.rows, out)
    progress.close()
    for error in summary.errors:
        print(f"error: {error}", file=err)
    for failure in summary.failures:
        print(f"delivery failed: {failure}", file=err)
    table = summary_table(summary, [r.name for r in config.rules])
    print(table, file=err if args.format == "jsonl" else out)
    return 1 if summary.errors or summary.failures else 0


def register(sub: Any) -> None:
    rep = sub.add_parser("replay", help="evaluate a config over history (files, directories, s3://) and "
                                        "show how often each rule would fire")
    rep.add_argument("--config", default=DEFAULT_CONFIG)
    rep.add_argument("--send", action="store_true", help="deliver the matches (default: count them only)")
    rep.add_argument("--format", choices=("table", "jsonl"), default="table")
    history_args(rep)
    rep.set_defaults(func=cmd_replay)
