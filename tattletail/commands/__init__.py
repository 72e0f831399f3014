"""The command line, one module per verb; ``main`` builds the parser from each module's ``register``.

``check`` validates a configuration and lists every problem at once. ``run`` evaluates local
CloudTrail log files with the same engine the Lambda uses and prints the matches; it sends them to
the configured destinations only with ``--send``. ``render`` prints exactly what each destination
would send for a record, so rules and labels can be tuned without AWS. ``test`` runs the rules' own
cases, ``replay`` and ``report sessions`` read history, ``redrive`` resends dead letters, ``backfill``,
``policy`` and ``template`` help deploy, ``import sigma`` translates Sigma rules.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

from tattletail import log
from tattletail.commands import (
    backfill,
    check,
    import_sigma,
    policy,
    redrive,
    render,
    replay,
    report_sessions,
    run,
    test,
)

VERBS = (check, run, render, test, replay, policy, redrive, backfill, import_sigma, report_sessions)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tattletail", description="CloudTrail records -> jq rules -> alerts.")
    sub = parser.add_subparsers(dest="command", required=True)
    for verb in VERBS:
        verb.register(sub)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    log.setup("WARNING")
    args = build_parser().parse_args(argv)
    return int(args.func(args, out, err))
