"""The command line: ``tattletail check | run | render | test | replay | report sessions | redrive |
backfill manifest | policy | template | import sigma``.

``check`` validates a configuration and lists every problem at once. ``run`` evaluates local
CloudTrail log files with the same engine the Lambda uses and prints the matches; it sends them to
the configured destinations only with ``--send``. ``render`` prints exactly what each destination
would send for a record, so rules and labels can be tuned without AWS.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import sys
from collections import Counter
from collections.abc import Sequence
from datetime import date
from typing import Any, TextIO
from urllib.parse import quote

from tattletail import config as config_module
from tattletail import (
    deadletter,
    delivery,
    facts,
    history,
    log,
    policy,
    replay,
    ruletest,
    secrets,
    sessions,
    settings,
    sigma,
)
from tattletail.alert import Alert
from tattletail.cloudtrail import GZIP_MAGIC, NotCloudTrail
from tattletail.delivery import Dispatcher
from tattletail.engine import Engine
from tattletail.errors import ConfigError, SourceError
from tattletail.pipeline import process_stream
from tattletail.prefilter import necessary_condition
from tattletail.replay import match_row
from tattletail.rules import Match
from tattletail.state import DynamoState

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


def _load(path: str, err: TextIO, resolve: bool = False) -> config_module.Config | None:
    """The config at ``path``, its problems printed when it has some. ``resolve`` reads its secrets."""
    try:
        return config_module.load(path, resolve=secrets.Resolver() if resolve else None)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=err)
        return None


def cmd_check(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        config = config_module.load(args.config, resolve=secrets.Resolver() if args.resolve else None)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=err)
        print(f"{len(exc.problems)} problem(s) found", file=err)
        return 1
    refs = f", {len(config.references)} secret references" + (" read" if args.resolve else " (syntax checked)")
    print(config.summary() + (refs if config.references else ""), file=out)
    if args.explain:
        for rule in config.rules:
            condition = necessary_condition(rule.jq_match)
            skip = " or ".join(f"{'.'.join(path)} in {sorted(values)}" for path, values in condition or ())
            print(f"  {rule.name}: {rule.engine_reason}" + (f"; evaluated only when {skip}" if skip else ""), file=out)
    return 0


def cmd_run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    config = _load(args.config, err, resolve=args.send)
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
    config = _load(args.config, err)
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


def cmd_test(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        rules = ruletest.collect(args.paths)
    except ConfigError as exc:
        print("\n".join(exc.problems), file=err)
        return 1
    results = ruletest.run(rules)
    failed = [r for r in results if not r.passed]
    line = "".join("." if r.passed else "F" for r in results)
    print(line, file=out)
    for result in failed:
        print(f"\nFAILED {result.rule.origin}: rule {result.rule.name!r}: {result.case}", file=out)
        print(f"  expected: {result.expected}", file=out)
        print(f"  jq gave:  {result.got}", file=out)
    gaps = ruletest.untested(rules)
    for gap in gaps:
        print(f"warning: {gap}", file=out)
    print(f"\n{len(results) - len(failed)} passed, {len(failed)} failed "
          f"({len(rules)} rules, {len(gaps)} without both a match and a close miss)", file=out)
    return 1 if failed or not results else 0


def _dates(args: argparse.Namespace, err: TextIO) -> tuple[date | None, date | None] | None:
    try:
        since = sessions.parse_day(args.since) if args.since else None
        until = sessions.parse_day(args.until) if args.until else None
    except ValueError:
        print("--since and --until take a day: YYYY-MM-DD", file=err)
        return None
    return since, until


def _discover(args: argparse.Namespace, err: TextIO) -> tuple[list[history.LogRef], date | None, date | None] | None:
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


def cmd_replay(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    config = _load(args.config, err, resolve=args.send)
    if config is None:
        return 1
    found = _discover(args, err)
    if found is None:
        return 1
    refs = found[0]
    summary = replay.Summary()
    progress = replay.Progress(len(refs), err)
    for result in replay.run_files(args.config, refs, workers=args.workers, send=args.send,
                                   keep_rows=args.format == "jsonl"):
        summary.add(result)
        progress.update(result)
        if args.format == "jsonl":
            replay.print_rows(result.rows, out)
    progress.close()
    for error in summary.errors:
        print(f"error: {error}", file=err)
    for failure in summary.failures:
        print(f"delivery failed: {failure}", file=err)
    table = replay.summary_table(summary, [r.name for r in config.rules])
    print(table, file=err if args.format == "jsonl" else out)
    return 1 if summary.errors or summary.failures else 0


def cmd_report_sessions(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    found = _discover(args, err)
    if found is None:
        return 1
    refs, since, until = found
    rows: list[dict[str, Any]] = []
    errors = []
    for result in replay.run_files(None, refs, workers=args.workers, keep_rows=True, func=sessions.rows_of_file):
        rows += result.rows
        if result.error:
            errors.append(result.error)
    for error in errors:
        print(f"error: {error}", file=err)
    out.write(sessions.render(sessions.within(rows, since, until), args.format))
    return 1 if errors else 0


def cmd_template(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    config = _load(args.config, err)
    if config is None:
        return 1
    try:
        with open(args.template, encoding="utf-8") as fh:
            rendered = policy.render_template(fh.read(), config)
    except (OSError, policy.PolicyError) as exc:
        print(f"error: {exc}", file=err)
        return 1
    if args.output:
        with open(args.output, "w", encoding="utf-8") as fh:
            fh.write(rendered)
    else:
        out.write(rendered)
    return 0


def cmd_policy(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    config = _load(args.config, err, resolve=args.resolve)
    if config is None:
        return 1
    region = args.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    values = {"AWS::Partition": policy.partition_of(region), "AWS::Region": region,
              "AWS::AccountId": args.account_id or "*", "FunctionName": args.function_name,
              "TrailBucket": args.trail_bucket or "*", "TrailPrefix": args.trail_prefix}
    if args.account_id is None:
        print("note: no --account-id; account fields are '*'", file=err)
    if args.trail_bucket is None:
        print("note: no --trail-bucket; the trail bucket is '*'", file=err)
    config_bucket = args.config_bucket or os.environ.get(settings.S3_CONFIG_BUCKET)
    if config_bucket:
        values.update(HasS3Config="1", ConfigBucket=config_bucket,
                      ConfigKey=args.config_key or os.environ.get(settings.S3_CONFIG_PATH) or "tattletail.toml")
    if args.state_table:
        arn = args.state_table if args.state_table.startswith("arn:") else (
            f"arn:{values['AWS::Partition']}:dynamodb:{region}:{values['AWS::AccountId']}:table/{args.state_table}")
        values.update(CreateStateTable="1", **{"StateTable.Arn": arn})
    if args.dlq_url:
        host, _, path = args.dlq_url.removeprefix("https://").partition("/")
        account, _, name = path.partition("/")
        queue_region = host.split(".")[1] if host.startswith("sqs.") else region
        values.update(CreateDeadLetterQueue="1", **{
            "DeadLetterQueue.Arn": f"arn:{values['AWS::Partition']}:sqs:{queue_region}:{account}:{name}"})
    if args.dlq_s3:
        bucket, _, prefix = args.dlq_s3.removeprefix("s3://").partition("/")
        values.update(HasS3DeadLetters="1", DeadLetterBucket=bucket, DeadLetterPrefix=prefix)
    try:
        document = policy.concrete(config, values)
    except policy.PolicyError as exc:
        print(f"error: {exc}", file=err)
        return 1
    out.write(json.dumps(document, indent=2) + "\n")
    return 0


def cmd_redrive(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    config = _load(args.config, err, resolve=True)
    if config is None:
        return 1
    table = args.state_table or os.environ.get(settings.STATE_TABLE)
    result = delivery.redrive(deadletter.open_store(args.store), config,
                              state=DynamoState(table) if table else None)
    for kept in result.kept:
        print(f"kept: {kept}", file=err)
    print(f"{result.resent} resent, {result.already_delivered} already delivered, {len(result.kept)} kept", file=out)
    return 1 if result.kept else 0


def cmd_backfill_manifest(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """The CSV manifest of an S3 Batch Operations job that re-scans history with the deployed function:
    ``bucket,key`` per CloudTrail log object (keys URL-encoded, as manifests require), digests excluded."""
    if not all(source.startswith("s3://") for source in args.sources):
        print("backfill manifest takes s3://bucket/prefix sources", file=err)
        return 1
    found = _discover(args, err)
    if found is None:
        return 1
    refs = found[0]
    target = open(args.output, "w", newline="") if args.output else out  # noqa: SIM115 - closed below
    try:
        writer = csv.writer(target, lineterminator="\n")
        for ref in refs:
            writer.writerow([ref.bucket, quote(ref.key or "", safe="/")])
    finally:
        if args.output:
            target.close()
    print(f"{len(refs)} log objects" + (f" written to {args.output}" if args.output else ""), file=err)
    return 0 if refs else 1


def cmd_import_sigma(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        rules = sigma.load(args.paths)
    except sigma.Skipped as exc:
        print(f"error: {exc}", file=err)
        return 1
    except Exception as exc:  # pySigma's parse errors name the file
        print(f"error: {exc}", file=err)
        return 1
    imported, skipped = sigma.import_rules(rules)
    for rule, reason in skipped:
        print(f"skipped: {rule.title} ({rule.source.path if rule.source else '?'}): {reason}", file=err)
    text = sigma.pack(imported, ", ".join(args.paths))
    if args.output:
        with open(args.output, "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        out.write(text)
    print(f"{len(imported)} rules translated, {len(skipped)} skipped"
          + (f", written to {args.output}" if args.output else ""), file=err)
    return 0


def _history_args(parser: argparse.ArgumentParser, workers: bool = True) -> None:
    parser.add_argument("sources", nargs="+", metavar="SOURCE",
                        help="a log file, a directory of them, or s3://bucket/prefix")
    parser.add_argument("--since", help="first day (YYYY-MM-DD, UTC) of the key layout's date folders")
    parser.add_argument("--until", help="last day (YYYY-MM-DD, UTC), inclusive")
    if workers:
        parser.add_argument("--workers", type=int, default=replay.default_workers(),
                            help="processes (default: all cores)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tattletail", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    check = sub.add_parser("check", help="validate a configuration; list every problem")
    check.add_argument("config", nargs="?", default=DEFAULT_CONFIG)
    check.add_argument("--resolve", action="store_true", help="read the referenced secrets (SSM, Secrets Manager)")
    check.add_argument("--explain", action="store_true",
                       help="say per rule which engine runs it (compiled Python or libjq) and its prefilter")
    check.set_defaults(func=cmd_check)

    run = sub.add_parser("run", help="evaluate local CloudTrail log files (.json, .json.gz)")
    run.add_argument("--config", default=DEFAULT_CONFIG)
    run.add_argument("--send", action="store_true", help="deliver matches to the rules' destinations")
    run.add_argument("--no-prefilter", action="store_true", help="evaluate every rule on every record")
    run.add_argument("--format", choices=("text", "jsonl"), default="text",
                     help="jsonl: one JSON object per match (rule, file, index, eventID, match)")
    run.add_argument("logfiles", nargs="+", metavar="LOGFILE")
    run.set_defaults(func=cmd_run)

    render = sub.add_parser("render", help="print exactly what each destination would send for a record")
    render.add_argument("--config", default=DEFAULT_CONFIG)
    render.add_argument("--rule", help="only this rule")
    render.add_argument("--destination", help="only this destination id")
    render.add_argument("event", metavar="EVENT.json", help="a CloudTrail record, or a log file")
    render.set_defaults(func=cmd_render)

    test = sub.add_parser("test", help="run the test cases of every rule in packs, configs or directories")
    test.add_argument("paths", nargs="*", default=["rules"], metavar="PATH")
    test.set_defaults(func=cmd_test)

    rep = sub.add_parser("replay", help="evaluate a config over history (files, directories, s3://) and "
                                        "show how often each rule would fire")
    rep.add_argument("--config", default=DEFAULT_CONFIG)
    rep.add_argument("--send", action="store_true", help="deliver the matches (default: count them only)")
    rep.add_argument("--format", choices=("table", "jsonl"), default="table")
    _history_args(rep)
    rep.set_defaults(func=cmd_replay)

    tpl = sub.add_parser("template", help="template.yaml with the role's statements derived from a config")
    tpl.add_argument("--config", default=DEFAULT_CONFIG)
    tpl.add_argument("--template", default="template.yaml")
    tpl.add_argument("-o", "--output")
    tpl.set_defaults(func=cmd_template)

    pol = sub.add_parser("policy", help="the least-privilege IAM policy the function needs for a config")
    pol.add_argument("--config", default=DEFAULT_CONFIG)
    pol.add_argument("--trail-bucket")
    pol.add_argument("--trail-prefix", default="AWSLogs/")
    pol.add_argument("--config-bucket", help=f"config in S3 (default: ${settings.S3_CONFIG_BUCKET})")
    pol.add_argument("--config-key")
    pol.add_argument("--state-table", help="DynamoDB table name or ARN")
    pol.add_argument("--dlq-url", help="SQS dead letter queue URL")
    pol.add_argument("--dlq-s3", help="s3://bucket/prefix for dead letters")
    pol.add_argument("--function-name", default="tattletail")
    pol.add_argument("--region")
    pol.add_argument("--account-id")
    pol.add_argument("--resolve", action="store_true", help="read secrets that hold ARNs or addresses")
    pol.set_defaults(func=cmd_policy)

    red = sub.add_parser("redrive", help="send dead letters again (an SQS queue URL or s3://bucket/prefix)")
    red.add_argument("--config", default=DEFAULT_CONFIG)
    red.add_argument("--state-table", help=f"DynamoDB delivery state (default: ${settings.STATE_TABLE})")
    red.add_argument("store", metavar="STORE")
    red.set_defaults(func=cmd_redrive)

    backfill = sub.add_parser("backfill", help="re-scan history with the deployed function (S3 Batch Operations)")
    backfill_sub = backfill.add_subparsers(dest="backfill", required=True)
    manifest = backfill_sub.add_parser("manifest", help="write the CSV manifest of CloudTrail log objects for a job")
    manifest.add_argument("-o", "--output", help="file to write (default: standard output)")
    _history_args(manifest, workers=False)
    manifest.set_defaults(func=cmd_backfill_manifest)

    imp = sub.add_parser("import", help="import rules from other formats")
    imp_sub = imp.add_subparsers(dest="format_", required=True)
    sig = imp_sub.add_parser("sigma", help="Sigma rules (YAML files or directories) to a rule pack, translated to jq")
    sig.add_argument("paths", nargs="+", metavar="PATH")
    sig.add_argument("-o", "--output", metavar="PACK.toml")
    sig.set_defaults(func=cmd_import_sigma)

    report = sub.add_parser("report", help="reports over history")
    report_sub = report.add_subparsers(dest="report", required=True)
    sess = report_sub.add_parser("sessions", help="Session Manager sessions: events, per instance and user, per day")
    sess.add_argument("--format", choices=("table", "csv", "json"), default="table")
    _history_args(sess)
    sess.set_defaults(func=cmd_report_sessions)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    log.setup("WARNING")
    args = build_parser().parse_args(argv)
    return int(args.func(args, out, err))


if __name__ == "__main__":
    sys.exit(main())
