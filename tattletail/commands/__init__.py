"""The command line, one module per verb; ``main`` builds the parser from each module's ``register``.

``check`` validates a configuration and lists every problem at once. ``run`` evaluates local
CloudTrail log files with the same engine the Lambda uses and prints the matches; it sends them to
the configured destinations only with ``--send``. ``render`` prints exactly what each destination
would send for a record, so rules and labels can be tuned without AWS. ``test`` runs the rules' own
cases, ``replay`` and ``report sessions`` read history, ``redrive`` resends dead letters, ``backfill``,
``policy`` and ``template`` help deploy, ``import sigma`` translates Sigma rules.

Every command behaves like a Unix tool: results on stdout, problems on stderr, no tracebacks for
expected failures, quiet when the reader of a pipe goes away (``run ... | head``), and one meaning
per exit status (``EXIT_CODES``).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import TextIO, cast

from tattletail import __version__, log
from tattletail.alerts.escape import Terminal
from tattletail.commands.common import Output, OutputError, aws_failure, window_problem
from tattletail.errors import TattletailError

# the first word of each command -> the module that registers it (in the order --help lists them). Only
# the module of the verb given is imported (--help and unknown verbs import them all): the Sigma
# translator, history and S3 Batch modules are not loaded to ``run`` a file.
VERBS = {
    "check": "check", "run": "run", "render": "render", "test": "test", "replay": "replay",
    "template": "policy", "policy": "policy", "redrive": "redrive", "backfill": "backfill",
    "import": "import_sigma", "report": "report_sessions",
}

DESCRIPTION = """\
CloudTrail records -> jq rules -> alerts (Slack, SNS, SES).

The rules live in a TOML file (tattletail.toml by default), in the format of the Go tool
cloudtrail-tattletail. The same engine runs in the Lambda and here: try a config with
`check`, evaluate local log files with `run` (nothing is sent without --send), see exactly
what a destination would send with `render`, run the rules' own test cases with `test`,
and measure a config over history with `replay`."""

EXIT_CODES = """\
exit status:
  0  success: nothing failed
  1  findings or failures: an invalid config, a failed rule test, a rule that failed at run
     time on some record (run, replay: one line per rule on stderr), records whose eventTime
     --since/--until cannot read, records the reader skipped, an unreadable log file, a file named
     that is no CloudTrail log, no log file at all, a failed delivery, a dead letter kept
  2  usage: unknown command or option, bad argument (a redrive store that is no queue or bucket,
     --since after --until, --workers below 1)"""

# optional packages (not needed to check and run a config) -> the extra that installs them
EXTRAS = {"boto3": "aws", "botocore": "aws", "sigma": "sigma"}


def build_parser(verb: str | None = None) -> argparse.ArgumentParser:
    """The parser for ``verb`` alone when it is known, else for every verb."""
    parser = argparse.ArgumentParser(prog="tattletail", description=DESCRIPTION, epilog=EXIT_CODES,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"tattletail {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    modules = [VERBS[verb]] if verb in VERBS else list(dict.fromkeys(VERBS.values()))
    for name in modules:
        importlib.import_module(f"tattletail.commands.{name}").register(sub)
    _describe(sub)
    return parser


def _describe(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Each verb's ``--help`` opens with its one-line help (unless it has a longer description) and
    ends with the exit statuses, nested verbs (``report sessions``) included."""
    helps = {action.dest: action.help for action in sub._choices_actions}
    for name, parser in sub.choices.items():
        if parser.description is None and helps.get(name):
            parser.description = helps[name]
        if parser.epilog is None:
            parser.epilog = EXIT_CODES
            parser.formatter_class = argparse.RawDescriptionHelpFormatter
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                _describe(action)


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    log.setup("WARNING")
    words = list(sys.argv[1:] if argv is None else argv)
    verb = next((word for word in words if not word.startswith("-")), None)
    parser = build_parser(verb)
    args = parser.parse_args(words)
    problem = window_problem(args)
    if problem is not None:
        parser.error(problem)  # exit 2, as every usage error
    raw_out = out
    # every verb's output shown as text a terminal cannot act on (control and bidi characters escaped)
    # and a failure to write it an error naming the output (``OutputError``), not a traceback
    out, err = cast(TextIO, Terminal(cast(TextIO, Output(out)))), cast(TextIO, Terminal(err))
    try:
        status = int(args.func(args, out, err))
        out.flush()
        return status
    except BrokenPipeError:
        # the reader went away (`run ... | head`): stop quietly, and keep Python's own flush at exit quiet too
        if raw_out is sys.stdout:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=err)
        return 130
    except TattletailError as exc:
        print(f"error: {exc}", file=err)
        if isinstance(exc, OutputError) and raw_out is sys.stdout:  # what is left unwritten stays unwritten
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except ModuleNotFoundError as exc:
        extra = EXTRAS.get((exc.name or "").partition(".")[0])
        if extra is None:
            raise
        print(f"error: this needs {exc.name}, which `make demo` does not install: "
              f"pip install 'tattletail[{extra}]'", file=err)
        return 1
    except Exception as exc:
        described = aws_failure(exc)
        if described is None:
            raise
        print(f"error: {described}", file=err)
        return 1
