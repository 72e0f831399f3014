"""The engine selects exactly what the jq command-line tool selects with the same programs."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tattletail.config import loader as config
from tattletail.engine import Engine
from tattletail.inputs.logfile import iter_file
from tests.helpers import ROOT

pytestmark = pytest.mark.skipif(shutil.which("jq") is None, reason="jq command-line tool not installed")


def jq_cli_matches(program: str, path: str) -> list[tuple[int, str]]:
    """(record index, first output) for every record whose first output is neither null nor false.
    Errors count as no match, as in the engine; ``try`` keeps one record's error from ending the run."""
    wrapped = (f".Records | range(length) as $i | .[$i] | (try first((\n{program}\n\n)) catch null)"
               " | select(. != null and . != false) | [$i, .]")
    data = subprocess.run(["gzip", "-dcf", path], check=True, capture_output=True).stdout
    out = subprocess.run(["jq", "-c", wrapped], input=data, check=True, capture_output=True).stdout
    return [(pair[0], json.dumps(pair[1], sort_keys=True)) for pair in map(json.loads, out.splitlines())]


@pytest.mark.parametrize("rule", config.load(ROOT / "tattletail.toml").rules, ids=lambda r: r.name)
def test_example_config_matches_jq_cli_over_corpus(rule, corpus) -> None:
    engine = Engine([rule])
    total = 0
    for path in corpus:
        ours = [(i, json.dumps(m.value, sort_keys=True))
                for i, record in enumerate(iter_file(str(path))) for m in engine.evaluate(record)]
        assert ours == jq_cli_matches(rule.jq_match, str(path)), path.name
        total += len(ours)
    if rule.name in ("SSM Start Session", "Create Access Key", "Create User"):
        assert total > 0  # the corpus holds such records, so the comparison is not vacuous
