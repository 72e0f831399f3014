"""The command line, one module per verb; ``main`` builds the parser from each module's ``register``.

``check`` validates a configuration and lists every problem at once. ``run`` evaluates local
CloudTrail log files with the same engine the Lambda uses and prints the matches; it sends them to
the configured destinations only with ``--send``. ``render`` prints exactly what each destination
would send for a record, so rules and labels can be tuned without AWS. ``test`` runs the rules' own
cases, ``replay`` and ``report sessions`` read history, ``redrive`` resends dead letters, ``backfill``,
``policy`` and ``template`` help deploy, ``import sigma`` translates Sigma rules.

Only the module of the verb given is imported (``--help`` and unknown verbs import them all): the
Sigma translator, history and S3 Batch modules are not loaded to ``run`` a file.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import TextIO

from tattletail import log

# the first word of each command -> the module that registers it (in the order --help lists them)
VERBS = {
    "check": "check", "run": "run", "render": "render", "test": "test", "replay": "replay",
    "template": "policy", "policy": "policy", "redrive": "redrive", "backfill": "backfill",
    "import": "import_sigma", "report": "report_sessions",
}


def build_parser(verb: str | None = None) -> argparse.ArgumentParser:
    """The parser for ``verb`` alone when it is known, else for every verb."""
    parser = argparse.ArgumentParser(prog="tattletail", description="CloudTrail records -> jq rules -> alerts.")
    sub = parser.add_subparsers(dest="command", required=True)
    modules = [VERBS[verb]] if verb in VERBS else list(dict.fromkeys(VERBS.values()))
    for name in modules:
        importlib.import_module(f"tattletail.commands.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    log.setup("WARNING")
    words = list(sys.argv[1:] if argv is None else argv)
    verb = next((word for word in words if not word.startswith("-")), None)
    args = build_parser(verb).parse_args(words)
    return int(args.func(args, out, err))
