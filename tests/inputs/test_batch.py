"""Runs of records parsed at once (``inputs.batch``) read exactly what the careful path reads: the same
records, the same values of the same types, the same bad records at the same indexes."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path
from typing import Any

import pytest

from tattletail.inputs import batch
from tattletail.inputs.logfile import iter_records
from tests.helpers import log_bytes


def read(data: bytes, *, runs: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[str, list[tuple[int, str]], int]:
    """The records (as a repr, which tells 1 from 1.0 and keeps key order), the bad records, and how many
    records came from runs."""
    taken = 0
    real = batch.parse_run

    def counting(*args: Any) -> Any:
        nonlocal taken
        out = real(*args)
        if out is not None:
            taken += len(out[0])
        return out

    with monkeypatch.context() as m:
        if runs:
            m.setattr("tattletail.inputs.recordstream.parse_run", counting)
        else:
            m.setattr(batch, "orjson", None)
        bad: list[tuple[int, str]] = []

        records = list(iter_records(io.BytesIO(data), "obj", lambda i, why: bad.append((i, why))))
    return repr(records), bad, taken


def same_both_ways(data: bytes, monkeypatch: pytest.MonkeyPatch) -> int:
    fast, fast_bad, taken = read(data, runs=True, monkeypatch=monkeypatch)
    slow, slow_bad, _ = read(data, runs=False, monkeypatch=monkeypatch)
    assert fast == slow
    assert [i for i, _ in fast_bad] == [i for i, _ in slow_bad]
    return taken


def test_corpus_reads_the_same_with_runs(corpus: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    taken = sum(same_both_ways(Path(f).read_bytes(), monkeypatch) for f in corpus)
    assert taken > 1000  # the fast path was used, not only the careful one


def tricky(rng: random.Random, n: int) -> str:
    """A log file's text whose records hold what orjson reads differently from json, or refuses."""
    values = ['"\\u0053tartSession"', '"q\\\\\\"}]{["', '"]]]}}}"', "12345678901234567890", "-9223372036854775809",
              "18446744073709551616", "1e400", "-1e400", "NaN", "Infinity", '"\\ud800"', "1.0", "-0", "3.5e-7",
              '"\\u00e9\\u2028"', "[]", "{}", '[{"a":[1,{"b":"}"}]}]', "9007199254740993", "true", "null",
              '"\\ud83d\\ude00"', '"\\u0000"', "-0.0e0", "0.0033143271278479602", "1E+2"]
    parts = []
    for i in range(n):
        fields = ['"eventVersion":"1.08"', f'"eventID":"{i}"', f'"eventName":{rng.choice(values)}']
        fields += [f'"k{j}":{rng.choice(values)}' for j in range(rng.randrange(5))]
        if rng.random() < 0.1:  # a key twice: the last value counts, at the first one's place
            fields.append(f'"eventID":{rng.choice(values)}')
        record = "{" + ",".join(fields) + "}"
        shape = rng.random()
        if shape < 0.02:
            record = "[" * 70 + "1" + "]" * 70  # too deep and not an object
        elif shape < 0.04:
            record = '{"eventVersion":"1.08","x":' + "[" * 70 + "]" * 70 + "}"  # too deep
        elif shape < 0.06:
            record = '{"eventVersion":"1.08","x":1 "y":2}'  # invalid
        elif shape < 0.08:
            record = "7"
        parts.append(record)
    return '{"Records":[' + ",".join(parts) + "]}"


@pytest.mark.parametrize("seed", range(6))
def test_tricky_values_read_the_same_with_runs(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    text = tricky(random.Random(seed), 3000)
    same_both_ways(text.encode(), monkeypatch)


def test_plain_records_are_taken_in_runs_and_read_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(7)
    records = [{"eventVersion": "1.08", "eventID": str(i), "eventName": rng.choice(["StartSession", "GetObject"]),
                "requestParameters": {"policy": json.dumps({"Statement": [{"Action": ["s3:*"]}]}),
                                      "n": rng.randrange(10**18), "f": rng.random(), "items": [{"id": "}],{"}]}}
               for i in range(5000)]
    taken = same_both_ways(log_bytes(records), monkeypatch)
    assert taken > 3000, taken


def test_too_deep_sees_only_brackets_outside_strings() -> None:
    assert not batch.too_deep(b'{"a":"[[[[\\"","b":[[1]]}', 3)
    assert batch.too_deep(b'{"a":"[[[[\\"","b":[[1]]}', 2)
    assert not batch.too_deep(b'{"a":"]]]\\\\"}', 1)
    assert batch.too_deep(b'[[1]],[2]', 1) and not batch.too_deep(b'[[1]],[2]', 2)


def vouched_while_read(data: bytes) -> list[tuple[dict[str, Any], bool]]:
    """Each record with whether it was vouched exact when the reader handed it over (the table keeps
    only the last run, so it is asked at once)."""
    from tattletail.jq.recordtext import vouched

    return [(record, vouched(record)) for record in iter_records(io.BytesIO(data), "obj")]


@pytest.mark.parametrize("seed", range(6))
def test_only_exact_records_are_vouched(seed: int) -> None:
    from tattletail.jq.recordtext import exact

    plain = ",".join(f'{{"eventVersion":"1.08","eventID":"p{i}","n":{i},"x":1.5}}' for i in range(2000))
    text = tricky(random.Random(seed), 3000)
    seen = vouched_while_read((text[:-2] + "," + plain + "]}").encode())
    assert all(exact(record) for record, vouched in seen if vouched)
    assert any(vouched for _, vouched in seen)  # runs without long numbers are vouched
    assert any(not exact(record) for record, _ in seen)  # and the file does hold inexact records


def test_a_run_holding_a_number_of_16_digits_is_not_vouched() -> None:
    records = [{"eventVersion": "1.08", "eventID": str(i), "n": 9007199254740993 if i == 40 else i}
               for i in range(2000)]
    seen = vouched_while_read(log_bytes(records))
    assert not next(v for r, v in seen if r["eventID"] == "40")
    assert any(v for _, v in seen)


def test_vouching_changes_no_match_nor_error() -> None:
    """The compiled rules skip the exactness walk for vouched records: what they find must be what libjq
    alone finds, on records mixing exact runs with 16-digit numbers (which libjq reads differently)."""
    from tattletail.config.loader import loads
    from tattletail.engine import Engine

    config = loads("""
[[rule]]
name = "big"
jq_match = 'select(.n == 9007199254740993) | "n: \\\\(.n)"'
[[rule]]
name = "sum"
jq_match = 'select((.n + 1) > 9007199254740992)'
[[rule]]
name = "text"
jq_match = '.n | tostring | select(length > 15)'
""")
    rng = random.Random(3)
    records = [{"eventVersion": "1.08", "eventID": str(i),
                "n": rng.choice([9007199254740993, 9007199254740992, 123456789012345678]) if i % 1500 == 0
                else rng.choice([1, 2.5, 10**14, -0.0, 1e300])}
               for i in range(6000)]
    data = log_bytes(records)

    from tattletail.jq.recordtext import vouched

    def matches(compiled: bool) -> tuple[list[tuple[int, str, Any]], int]:
        engine = Engine(config.rules, compiled=compiled)
        found, trusted = [], 0
        for i, record in enumerate(iter_records(io.BytesIO(data), "obj")):
            trusted += vouched(record)
            found += [(i, m.rule.name, m.value) for m in engine.evaluate(record)]
        return found, trusted

    (compiled, trusted), (libjq, _) = matches(True), matches(False)
    assert compiled == libjq
    assert trusted > 1000 and len(compiled) > 100
