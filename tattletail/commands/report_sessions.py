"""``tattletail report sessions``: what teams ask Athena about Session Manager, answered from the logs.

Every StartSession / ResumeSession / TerminateSession in a period (time, event, target, who, source IP,
session id, error), sessions per (instance, user), and sessions per day. Resume and Terminate name only the
session id; their instance is filled in from the StartSession of the same session when it was seen. A call
that failed (an ``errorCode``: access denied, target not connected) started no session: it is listed with
its error and counted as a failed call, never as a session.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from collections import Counter
from collections.abc import Iterable
from datetime import date
from typing import Any, TextIO

from tattletail.alerts.facts import derive, get, text
from tattletail.commands.common import discover, history_args, in_window, named_files, undated_line
from tattletail.commands.parallel import run_files
from tattletail.delivery.report import Report, RuleErrors
from tattletail.engine import Engine
from tattletail.inputs.history import LogRef
from tattletail.pipeline import process_ref
from tattletail.rules import Match, Rule

EVENTS = ("StartSession", "ResumeSession", "TerminateSession")
COLUMNS = ("time", "event", "target", "who", "source_ip", "session_id", "account", "region", "error")


def session_row(record: dict[str, Any]) -> dict[str, Any] | None:
    """The report row of a Session Manager record, or ``None`` for any other record."""
    if record.get("eventSource") != "ssm.amazonaws.com" or record.get("eventName") not in EVENTS:
        return None
    facts = derive(record)
    session = text(get(record, "responseElements", "sessionId")) or text(get(record, "requestParameters", "sessionId"))
    return {
        "time": facts.time.strftime("%Y-%m-%dT%H:%M:%SZ") if facts.time else text(record.get("eventTime")),
        "event": facts.event_name,
        "target": text(get(record, "requestParameters", "target")),
        "who": facts.who.display(),
        "source_ip": facts.source_ip,
        "session_id": session,
        "account": facts.account,
        "region": facts.region,
        "error": facts.error_code,
        "event_id": text(record.get("eventID")),  # what identifies the call (two identical failures are two)
    }


SESSION_RULE = Rule(name="Session Manager event", jq_match=(
    'select(.eventSource == "ssm.amazonaws.com" and '
    '(.eventName == "StartSession" or .eventName == "ResumeSession" or .eventName == "TerminateSession"))'))


def rows_of_file(ref: LogRef, s3: Any) -> Report:
    """Session rows of one file (a ``parallel.run_files`` job): the Session Manager records found by the
    engine, through the same path as every other evaluation."""
    rows: list[dict[str, Any]] = []

    def on_match(match: Match, index: int) -> None:
        row = session_row(match.record)
        if row is not None:
            rows.append(row)

    report = process_ref(ref, _engine(), on_match=on_match, s3=s3)
    report.rows = rows
    return report


_engines: list[Engine] = []


def _engine() -> Engine:
    if not _engines:
        _engines.append(Engine([SESSION_RULE]))
    return _engines[0]


def within(rows: Iterable[dict[str, Any]], since: date | None, until: date | None,
           undated: RuleErrors | None = None) -> list[dict[str, Any]]:
    """Rows whose time falls in [since, until] (whole days, UTC, compared as instants), de-duplicated and
    in time order. With a window, a row whose time cannot be read is left out and tallied in ``undated``.

    Real trails deliver the same record in more than one file; a row is kept once: one per ``eventID``
    (two failed attempts a second apart show the same values, and are two), by its values when it has none."""
    keep = in_window(since, until) if since or until else None
    seen: set[Any] = set()
    kept = []
    for row in rows:
        key = row["event_id"] or tuple(row.values())
        if key in seen:
            continue
        inside = keep(row["time"]) if keep is not None else True
        if inside is None and undated is not None:
            undated.add(f"eventTime {row['time']!r}", row["event_id"])
        if not inside:
            continue
        seen.add(key)
        kept.append(row)
    kept.sort(key=lambda r: (r["time"] or "", r["event"] or ""))
    targets = {r["session_id"]: r["target"] for r in kept if r["event"] == "StartSession" and r["session_id"]}
    for row in kept:
        if row["target"] is None and row["session_id"] in targets:
            row["target"] = targets[row["session_id"]]
    return kept


def started(row: dict[str, Any]) -> bool:
    """A StartSession call that succeeded (a failed one carries an ``errorCode``)."""
    return row["event"] == "StartSession" and not row["error"]


def per_pair(rows: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    return Counter((r["target"] or "-", r["who"] or "-") for r in rows if started(r))


def per_day(rows: list[dict[str, Any]]) -> Counter[str]:
    return Counter((r["time"] or "-")[:10] for r in rows if started(r))


def _table(headers: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str:
    cells = [headers] + [tuple("-" if v is None else str(v) for v in row) for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def inert(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: one starting like a formula (``=HYPERLINK(...)`` in a user
    name or target an attacker chose) gets a leading ``'``, OWASP's advice against CSV injection."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def render(rows: list[dict[str, Any]], fmt: str) -> str:
    """The report as a table, CSV (the session rows) or JSON (rows and both counts)."""
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        writer.writerows({name: inert(value) for name, value in row.items()} for row in rows)
        return buffer.getvalue()
    pairs, days = per_pair(rows), per_day(rows)
    failed = [r for r in rows if r["error"]]
    if fmt == "json":
        return json.dumps({
            "sessions": rows,
            "failed_calls": len(failed),
            "per_instance_user": [{"target": t, "who": w, "sessions": n} for (t, w), n in sorted(pairs.items())],
            "per_day": [{"day": d, "sessions": n} for d, n in sorted(days.items())],
        }, indent=2, ensure_ascii=False) + "\n"
    shown = (*COLUMNS[:6], "error")
    parts = [
        _table(shown, [tuple(r[c] for c in shown) for r in rows]),
        "",
        "Sessions per (instance, user)",
        _table(("target", "who", "sessions"), [(t, w, n) for (t, w), n in pairs.most_common()]),
        "",
        "Sessions per day",
        _table(("day", "sessions"), sorted(days.items())),
        "",
        f"{len(rows)} events, {sum(pairs.values())} sessions started, {len(failed)} failed calls",
    ]
    return "\n".join(parts) + "\n"


def cmd_report_sessions(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    found = discover(args, err)
    if found is None:
        return 1
    refs, since, until = found
    rows: list[dict[str, Any]] = []
    errors = []
    _engine()  # compiled once, before the workers are forked
    named = named_files(args.sources)
    for report in run_files(rows_of_file, refs, workers=args.workers):
        rows += report.rows
        if report.error:
            errors.append(report.error)
        elif report.skipped and report.name in named:  # a file named that is no log: as replay, a failure
            errors.append(f"skipped: {report.skipped}")
    for error in errors:
        print(error if error.startswith("skipped: ") else f"error: {error}", file=err)
    undated = RuleErrors()
    out.write(render(within(rows, since, until, undated), args.format))
    if undated.count:
        print(undated_line(undated), file=err)
    return 1 if errors or undated.count or not refs else 0


def register(sub: Any) -> None:
    report = sub.add_parser("report", help="reports over history")
    report_sub = report.add_subparsers(dest="report", required=True, metavar="{sessions}")
    sess = report_sub.add_parser("sessions", help="Session Manager sessions: events, per instance and user, per day")
    sess.add_argument("--format", choices=("table", "csv", "json"), default="table")
    history_args(sess)
    sess.set_defaults(func=cmd_report_sessions)
