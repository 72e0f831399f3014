"""``make bench``, correlations: what the correlation pack costs, in time and in state writes.

The generated log file goes through ``pipeline.process_stream`` (the Lambda's path) three ways:

  without        the bench's 50 rules alone
  with-pack      the same plus rules/correlations.toml (6 base rules, 5 correlations), windows in memory
  with-dynamodb  the same with windows in DynamoDB (moto, in-process: its figure is moto's speed, not
                 DynamoDB's; it is there to count the writes a real table would take)

State writes are counted (``UpdateItem`` calls, conditional failures included, as DynamoDB bills
them) and shown per record read and per base-rule match; the medians are over interleaved repeats.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))


def _config(rules: Path, tmp: Path, with_pack: bool) -> Any:
    from tattletail.config import loader

    text = rules.read_text()
    if with_pack:
        text += f'\n[[include]]\npath = "{ROOT / "rules" / "correlations.toml"}"\n'
    path = tmp / ("with.toml" if with_pack else "without.toml")
    path.write_text(text)
    return loader.load(path)


def _run(config: Any, log: Path, windows: Any) -> dict[str, Any]:
    from tattletail.correlation.correlator import Correlator
    from tattletail.delivery.report import Report
    from tattletail.engine import Engine
    from tattletail.pipeline import process_stream

    engine = Engine(config.rules)
    correlator = Correlator(config.correlations, windows) if config.correlations and windows is not None else None
    bases = {r for c in config.correlations for r in c.rules}
    base_matches = 0

    def count(match: Any, index: int) -> None:
        nonlocal base_matches
        base_matches += match.rule.name in bases

    report = Report(log.name)
    started = time.perf_counter()
    with log.open("rb") as stream:
        process_stream(stream, report, engine, on_match=count, correlator=correlator)
    seconds = time.perf_counter() - started
    fired = sum(n for name, n in report.matches.items() if name in {c.name for c in config.correlations})
    return {"records": report.records, "seconds": seconds, "base_matches": base_matches, "fired": fired,
            "writes": getattr(windows, "writes", 0)}


def _dynamo() -> Any:
    import os

    from moto import mock_aws

    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                       "AWS_DEFAULT_REGION": "us-east-1"})
    mock = mock_aws()
    mock.start()
    import boto3

    client = boto3.client("dynamodb", region_name="us-east-1")
    client.create_table(TableName="state", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                        BillingMode="PAY_PER_REQUEST")
    return mock, client


def report(rules: Path, log: Path, repeat: int, tmp: Path) -> None:
    from tattletail.correlation.state import DynamoWindows, MemoryWindows

    without, with_pack = _config(rules, tmp, False), _config(rules, tmp, True)
    runs: dict[str, list[dict[str, Any]]] = {"without": [], "with-pack": [], "with-dynamodb": []}
    mock, client = _dynamo()
    try:
        for _ in range(repeat):
            runs["without"].append(_run(without, log, None))
            runs["with-pack"].append(_run(with_pack, log, MemoryWindows()))
            runs["with-dynamodb"].append(_run(with_pack, log, DynamoWindows("state", client)))
            items = client.scan(TableName="state")["Items"]
            sizes = [sum(len(k) + len(json.dumps(v)) for k, v in item.items()) for item in items]
            client.delete_table(TableName="state")
            client.create_table(TableName="state", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                                BillingMode="PAY_PER_REQUEST")
    finally:
        mock.stop()
    print(f"\nstate items after one run: {len(sizes)} windows, item size median {statistics.median(sizes):,.0f} "
          f"bytes, largest {max(sizes):,} bytes (approximate: attribute names and JSON-encoded values)")
    rate = {k: statistics.median(r["records"] / r["seconds"] for r in v) for k, v in runs.items()}
    print(f"correlations: {rules.name} with and without rules/correlations.toml (median of {repeat})")
    print(f"  {'run':<15}{'records/s':>11}{'x without':>11}{'base matches':>14}{'fired':>7}{'writes':>8}"
          f"{'writes/record':>15}{'writes/match':>14}")
    for name, results in runs.items():
        first = results[0]
        per_record = first["writes"] / max(first["records"], 1)
        per_match = first["writes"] / max(first["base_matches"], 1)
        print(f"  {name:<15}{rate[name]:>11,.0f}{rate['without'] / rate[name]:>10.2f}x{first['base_matches']:>14,}"
              f"{first['fired']:>7}{first['writes']:>8,}{per_record:>15.4f}{per_match:>14.2f}")
    same = {r[0]["fired"] for r in (runs["with-pack"], runs["with-dynamodb"])}
    print(f"  same alerts with windows in memory and in DynamoDB: {'yes' if len(same) == 1 else 'NO'}")
