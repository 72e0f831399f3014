"""``tattletail redrive``: send dead letters again, skipping what was delivered since."""

from __future__ import annotations

import argparse
import os
import re
from typing import Any, TextIO
from urllib.parse import urlsplit

from tattletail import settings
from tattletail.commands.common import DEFAULT_CONFIG, aws_failure, load_config
from tattletail.delivery import deadletter
from tattletail.delivery.redrive import redrive
from tattletail.delivery.state import DynamoState
from tattletail.errors import TattletailError

_QUEUE_PATH = re.compile(r"/\d{12}/[\w.-]{1,80}/?")  # /ACCOUNT/NAME, as every SQS endpoint (and moto) writes it


def store_problem(store: str) -> str | None:
    """Why ``store`` cannot be a dead-letter store (a usage error, found before any config or AWS call),
    or ``None``: an SQS queue URL is http(s)://HOST/ACCOUNT/NAME, an S3 store names its bucket."""
    if store.startswith("s3://"):
        return None if store[5:].partition("/")[0] else "an S3 store names its bucket"
    if store.startswith(("https://", "http://")):
        try:
            parts = urlsplit(store)
        except ValueError:
            return "not a URL"
        if parts.hostname and _QUEUE_PATH.fullmatch(parts.path) and not parts.query:
            return None
        return "not an SQS queue URL: its path is not /ACCOUNT/NAME"
    return "neither a queue URL nor s3://"


def cmd_redrive(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    problem = store_problem(args.store)
    if problem:
        print(f"error: {args.store!r} is not a dead-letter store ({problem}): give the SQS queue URL "
              "(https://sqs.REGION.amazonaws.com/ACCOUNT/NAME) or s3://bucket/prefix", file=err)
        return 2
    config = load_config(args.config, err, resolve=True, sending=True)
    if config is None:
        return 1
    table = args.state_table or os.environ.get(settings.STATE_TABLE)
    try:
        result = redrive(deadletter.open_store(args.store), config, state=DynamoState(table) if table else None)
    except TattletailError as exc:
        print(f"error: {exc}", file=err)
        return 1
    except Exception as exc:  # botocore: no credentials, no such queue or bucket, denied
        described = aws_failure(exc)
        if described is None:
            raise
        print(f"error: {args.store}: {described}", file=err)
        return 1
    for kept in result.kept:
        print(f"kept: {kept}", file=err)
    print(f"{result.resent} resent, {result.already_delivered} already delivered, {len(result.kept)} kept", file=out)
    return 1 if result.kept else 0


def register(sub: Any) -> None:
    red = sub.add_parser("redrive", help="send dead letters again (an SQS queue URL or s3://bucket/prefix)")
    red.add_argument("--config", default=DEFAULT_CONFIG)
    red.add_argument("--state-table", help=f"DynamoDB delivery state (default: ${settings.STATE_TABLE})")
    red.add_argument("store", metavar="STORE")
    red.set_defaults(func=cmd_redrive)
