"""``tattletail redrive``: send dead letters again, skipping what was delivered since."""

from __future__ import annotations

import argparse
import os
from typing import Any, TextIO

from tattletail import settings
from tattletail.commands.common import DEFAULT_CONFIG, aws_failure, load_config
from tattletail.delivery import deadletter
from tattletail.delivery.redrive import redrive
from tattletail.delivery.state import DynamoState
from tattletail.errors import TattletailError


def cmd_redrive(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if not args.store.startswith(("s3://", "https://", "http://")):
        print(f"error: {args.store!r} is not a dead-letter store: give the SQS queue URL "
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
