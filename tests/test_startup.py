"""Cold starts load only what they use: the Lambda and ``tattletail run`` do not import the HTTP client
of a destination the configuration does not have, nor the modules of other verbs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tattletail.destinations import REGISTRY

ROOT = Path(__file__).resolve().parent.parent


def modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", f"{code}\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
                         cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return set(json.loads(out.splitlines()[-1]))


def test_registry_names_each_class_by_its_type() -> None:
    assert sorted(REGISTRY) == ["ses", "slack_webhook", "sns"]
    for kind in REGISTRY:
        assert REGISTRY[kind].type == kind


def test_lambda_import_loads_no_http_client_nor_multiprocessing() -> None:
    loaded = modules_after("import tattletail.handler")
    assert not loaded & {"requests", "urllib3", "multiprocessing", "boto3"}


def test_run_loads_only_its_verb_and_the_destinations_configured(tmp_path: Path) -> None:
    config = tmp_path / "t.toml"
    config.write_text('[[destination]]\nid = "N"\ntype = "sns"\n'
                      'sns_arn = "arn:aws:sns:us-east-1:123456789012:t"\n\n'
                      '[[rule]]\nname = "r"\njq_match = \'select(.eventName == "X")\'\ndestinations = ["N"]\n')
    log = tmp_path / "empty.json"
    log.write_text('{"Records": []}')
    loaded = modules_after("from tattletail.commands import main\n"
                           f"assert main(['run', '--config', {str(config)!r}, {str(log)!r}]) == 0")
    assert "tattletail.destinations.sns" in loaded and "tattletail.commands.run" in loaded
    assert not loaded & {"requests", "tattletail.destinations.slack", "tattletail.commands.import_sigma",
                         "tattletail.commands.backfill", "multiprocessing"}


def test_help_still_lists_every_verb() -> None:
    from tattletail.commands import build_parser

    text = build_parser().format_help()
    for verb in ("check", "run", "render", "test", "replay", "template", "policy", "redrive", "backfill", "import",
                 "report"):
        assert verb in text
