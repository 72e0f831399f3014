"""``tattletail backfill manifest``: the CSV manifest of an S3 Batch Operations re-scan."""

from __future__ import annotations

import argparse
import csv
import io
from typing import Any, TextIO
from urllib.parse import quote

from tattletail.commands.common import discover, history_args, write_file


def cmd_backfill_manifest(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """The CSV manifest of an S3 Batch Operations job that re-scans history with the deployed function:
    ``bucket,key`` per CloudTrail log object (keys URL-encoded, as manifests require), digests excluded."""
    if not all(source.startswith("s3://") for source in args.sources):
        print("error: backfill manifest takes s3://bucket/prefix sources", file=err)
        return 2  # a usage error
    found = discover(args, err)
    if found is None:
        return 1
    refs = found[0]
    manifest = io.StringIO()
    writer = csv.writer(manifest, lineterminator="\n")
    for ref in refs:
        writer.writerow([ref.bucket, quote(ref.key or "", safe="/")])
    if args.output:
        write_file(args.output, manifest.getvalue(), newline="")
    else:
        out.write(manifest.getvalue())
    print(f"{len(refs)} log objects" + (f" written to {args.output}" if args.output else ""), file=err)
    return 0 if refs else 1


def register(sub: Any) -> None:
    backfill = sub.add_parser("backfill", help="re-scan history with the deployed function (S3 Batch Operations)")
    backfill_sub = backfill.add_subparsers(dest="backfill", required=True, metavar="{manifest}")
    manifest = backfill_sub.add_parser("manifest", help="write the CSV manifest of CloudTrail log objects for a job")
    manifest.add_argument("-o", "--output", help="file to write (default: standard output)")
    history_args(manifest, workers=False)
    manifest.set_defaults(func=cmd_backfill_manifest)
