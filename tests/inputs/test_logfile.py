"""Reading log objects: formats, damage, numbers, and the limits that keep memory bounded."""

from __future__ import annotations

import gzip
import io
import json
import math
import random
import sys
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tattletail.alerts.facts import derive
from tattletail.engine import Engine
from tattletail.errors import NotCloudTrail, SourceError
from tattletail.inputs.logfile import is_digest_key, iter_file, iter_records
from tattletail.inputs.recordstream import LIMITS, Limits, Reader, read_records
from tattletail.jq.values import normalize, tojson
from tattletail.rules import Rule
from tests.helpers import log_bytes

RECORDS = [{"eventName": "A", "n": 1.5}, {"eventName": "B"}]


@pytest.mark.parametrize("gz", [True, False])
def test_gzip_is_detected_by_magic_bytes_not_name(gz: bool) -> None:
    assert list(iter_records(io.BytesIO(log_bytes(RECORDS, gz=gz)), "x.json")) == RECORDS


class Trickle(io.RawIOBase):
    """A non-seekable stream returning a few bytes per read, like a network body."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        n = 3 if size < 0 else min(3, size)
        chunk, self.data = self.data[:n], self.data[n:]
        return chunk


def test_non_seekable_stream_reading_few_bytes_at_a_time() -> None:
    assert list(iter_records(Trickle(log_bytes(RECORDS)), "s3://b/k")) == RECORDS  # type: ignore[arg-type]


@pytest.mark.parametrize(("data", "message"), [
    (b"", "empty file"),
    (b'{"foo": [1]}', "not a CloudTrail log file"),
    (gzip.compress(b"[1, 2]"), "not a CloudTrail log file"),
])
def test_not_cloudtrail_is_recognised(data: bytes, message: str) -> None:
    with pytest.raises(NotCloudTrail, match=message):
        list(iter_records(io.BytesIO(data), "obj"))


def test_truncated_json_yields_what_came_before_and_names_the_object() -> None:
    data = gzip.compress(b'{"Records":[{"eventName":"A"},{"eventName":')
    seen = []
    with pytest.raises(SourceError, match="^obj: truncated: the text ends inside the log object"):
        for record in iter_records(io.BytesIO(data), "obj"):
            seen.append(record)
    assert seen == [{"eventName": "A"}]


def test_corrupt_gzip_names_the_object() -> None:
    with pytest.raises(SourceError, match="^obj: cannot decompress"):
        list(iter_records(io.BytesIO(b"\x1f\x8b\x08garbage-garbage"), "obj"))


def test_record_that_is_not_an_object_is_skipped_and_reported() -> None:
    skipped = []
    data = log_bytes([{"a": 1}, "text", {"b": 2}])
    got = list(iter_records(io.BytesIO(data), "obj", lambda i, why: skipped.append((i, why))))
    assert got == [{"a": 1}, {"b": 2}] and skipped == [(1, "record is a JSON string, not an object")]


def test_digest_keys() -> None:
    assert is_digest_key("AWSLogs/123456789012/CloudTrail-Digest/us-east-1/2026/11/20/x.json.gz")
    assert not is_digest_key("AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/20/x.json.gz")


def test_corpus_reads_every_record(corpus) -> None:
    total = sum(1 for path in corpus for _ in iter_file(str(path)))
    assert total == 15715


# ---------------------------------------------------------------- damage: everything before it is read

def compact(records: list[Any]) -> tuple[str, list[int]]:
    """A log file's text and, for each record, the offset just past its closing bracket."""
    text, ends = '{"Records":[', []
    for n, record in enumerate(records):
        text += ("," if n else "") + json.dumps(record)
        ends.append(len(text))
    return text + "]}", ends


def numbered(count: int) -> list[dict[str, Any]]:
    rng = random.Random(7)  # incompressible enough that the gzip stream has many blocks
    return [{"eventID": f"id-{n}", "eventName": "GetObject", "n": n,
             "requestParameters": {"key": "".join(rng.choice("abcdefghij") for _ in range(rng.randrange(40, 400)))}}
            for n in range(count)]


def read_until_error(data: bytes, stream: Any = None) -> tuple[list[dict[str, Any]], list[tuple[int, str]], str | None]:
    got, bad = [], []
    try:
        for record in iter_records(stream or io.BytesIO(data), "obj", lambda i, why: bad.append((i, why))):
            got.append(record)
    except SourceError as exc:
        return got, bad, str(exc)
    return got, bad, None


def test_json_cut_anywhere_yields_every_complete_record_then_names_the_object() -> None:
    records = [{"eventID": "a", "x": [1, {"y": "z]}"}], "n": -1.5e3}, {"eventID": "b", "s": "q\\\"}"}, {"eventID": "c"}]
    text, ends = compact(records)
    for cut in range(1, len(text)):
        got, bad, error = read_until_error(text[:cut].encode())
        assert got == [r for r, end in zip(records, ends, strict=True) if end <= cut], cut
        assert bad == [] and error is not None and error.startswith("obj: truncated: the text ends inside"), cut


@pytest.mark.parametrize("fraction", [0.05, 0.3, 0.5, 0.77, 0.99])
def test_truncated_gzip_yields_every_complete_record_before_the_cut(fraction: float) -> None:
    records = numbered(3000)
    text, ends = compact(records)
    data = gzip.compress(text.encode())
    cut = data[: int(len(data) * fraction)]
    available = zlib.decompressobj(wbits=31).decompress(cut)  # all that can be recovered
    want = [r for r, end in zip(records, ends, strict=True) if end <= len(available)]
    got, bad, error = read_until_error(cut)
    assert got == want and 0 < len(want) < len(records) and bad == []
    assert error is not None and error.startswith("obj: cannot decompress: truncated gzip")


def test_gzip_cut_in_its_trailer_still_yields_every_record() -> None:
    records = numbered(500)
    data = gzip.compress(compact(records)[0].encode())
    for cut in (4, 8):
        got, _, error = read_until_error(data[:-cut])
        assert got == records and error is not None and "truncated gzip" in error


def test_corrupt_gzip_yields_every_record_before_the_damage() -> None:
    records = numbered(3000)
    text, ends = compact(records)
    data = bytearray(gzip.compress(text.encode()))
    at = len(data) * 2 // 3
    safe = zlib.decompressobj(wbits=31).decompress(bytes(data[:at]))  # decompressed before the damage
    want = [r for r, end in zip(records, ends, strict=True) if end <= len(safe)]
    data[at:at + 64] = bytes(64)  # a run of zeros inside the deflate stream
    got, _, error = read_until_error(bytes(data))
    assert got[: len(want)] == want and len(want) > 1500
    assert error is not None and error.startswith("obj: cannot decompress: corrupt gzip") or "truncated" in error


def test_gzip_members_and_padding_are_read_and_trailing_junk_reported_after_the_records() -> None:
    one, two = numbered(3)[:2], numbered(3)[2:]
    body = compact(one + two)[0].encode()
    members = gzip.compress(body[:50]) + gzip.compress(body[50:])
    assert read_until_error(members) == (one + two, [], None)
    assert read_until_error(members + bytes(100)) == (one + two, [], None)
    got, _, error = read_until_error(members + b"junk")
    assert got == one + two and error == "obj: cannot decompress: unexpected data after the compressed stream"


# ---------------------------------------------------------------- numbers, text and structure

def test_every_number_jq_accepts_is_read_and_the_records_after_it_too() -> None:
    text = ('{"Records": [{"eventID": "before"}, {"eventID": "n", "big": 18446744073709551616, '
            '"neg": -18446744073709551617, "inf": 1e400, "ninf": -1E+400, "tiny": 1e-400, "f": 1.5, '
            '"long": ' + "7" * 4000 + ', "huge": 1' + "0" * 5000 + ', "nan": NaN, "infinity": -Infinity}, '
            '{"eventID": "after", "x": 1}]}')
    for stream in (io.BytesIO(text.encode()), Trickle(text.encode())):
        got, bad, error = read_until_error(b"", stream)
        assert [r["eventID"] for r in got] == ["before", "n", "after"] and bad == [] and error is None
        n = got[1]
        assert n["big"] == 18446744073709551616 and isinstance(n["big"], int)
        assert n["neg"] == -18446744073709551617 and n["long"] == int("7" * 4000)
        assert (n["inf"], n["ninf"], n["tiny"], n["f"], n["huge"]) == (math.inf, -math.inf, 0.0, 1.5, math.inf)
        assert math.isnan(n["nan"]) and n["infinity"] == -math.inf


def test_a_broken_record_is_reported_and_the_records_after_it_are_read() -> None:
    text = ('{"Records": [{"eventID": "1"}, {"a": tru}, {"eventID": "2"} {"eventID": "3"},, {"eventID": "4"}, 7, '
            '{"x": [1,]}, "s", {"eventID": "5"}, ]}')
    got, bad, error = read_until_error(text.encode())
    assert [r["eventID"] for r in got] == ["1", "2", "3", "4", "5"] and error is None
    assert [(i, why.split(":")[0]) for i, why in bad] == [
        (1, "invalid JSON"), (5, "record is a JSON number, not an object"), (6, "invalid JSON"),
        (7, "record is a JSON string, not an object")]


def test_invalid_utf8_is_replaced_as_jq_does_not_dropped() -> None:
    data = b'{"Records": [{"eventID": "1", "ua": "x\xff\xfey"}, {"eventID": "2"}]}'
    got, bad, error = read_until_error(data)
    assert got == [{"eventID": "1", "ua": "x\ufffd\ufffdy"}, {"eventID": "2"}] and not bad and error is None


def test_values_outside_records_are_skipped_and_a_second_records_array_read() -> None:
    text = ('{"Records": [{"eventID": "1"}], "other": {"Records": [{"eventID": "no"}], "s": "]}\\""}, '
            '"Records": [{"eventID": "2"}]}')
    assert read_until_error(text.encode()) == ([{"eventID": "1"}, {"eventID": "2"}], [], None)
    got, _, error = read_until_error(b'{"Records": [{"eventID": "1"}]} {"Records": []}')
    assert got == [{"eventID": "1"}] and error is not None and "unexpected text after the log object" in error


# ---------------------------------------------------------------- the limits

def read_chunked(text: str, chunk: int, limits: Limits) -> tuple[list[dict[str, Any]], list[tuple[int, str]]]:
    """The records and bad records of ``text`` given to the reader in chunks of ``chunk`` characters."""
    bad: list[tuple[int, str]] = []
    reader = Reader(iter([text[i:i + chunk] for i in range(0, len(text), chunk)]), limits)
    return list(read_records(reader, "obj", lambda i, why: bad.append((i, why)))), bad


def depth_of(v: Any) -> int:
    if isinstance(v, dict):
        return 1 + max(map(depth_of, v.values()), default=0)
    if isinstance(v, list):
        return 1 + max(map(depth_of, v), default=0)
    return 0


def strings_of(v: Any) -> Iterator[str]:
    if isinstance(v, dict):
        for k, x in v.items():
            yield k
            yield from strings_of(x)
    elif isinstance(v, list):
        for x in v:
            yield from strings_of(x)
    elif isinstance(v, str):
        yield v


def broken_limits(item: Any, limits: Limits) -> list[str]:
    """Which limits ``item`` breaks, measured on its text as json.dumps writes it in the file."""
    found = []
    if depth_of(item) > limits.depth:
        found.append("nested deeper")
    if len(json.dumps(item)) > limits.record_chars:
        found.append("larger than")
    if any(len(json.dumps(s)) - 2 > limits.string_chars for s in strings_of(item)):
        found.append("string is longer")
    return found


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet='ab"\\[]{}, é\n', max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(alphabet='k"\\]{', max_size=3), inner,
                                                                 max_size=4),
    max_leaves=12)


@settings(derandomize=True, max_examples=200, deadline=None)
@given(items=st.lists(st.dictionaries(st.text(max_size=2), json_values, max_size=4) | json_values, max_size=8),
       chunk=st.integers(1, 64), string_limit=st.sampled_from([6, 1000]))
def test_limits_hold_however_the_text_is_cut_into_chunks(items: list[Any], chunk: int, string_limit: int) -> None:
    limits = Limits(depth=3, record_chars=80, string_chars=string_limit)
    got, bad = read_chunked(json.dumps({"Records": items}), chunk, limits)
    want = [item for item in items if isinstance(item, dict) and not broken_limits(item, limits)]
    assert got == want
    want_bad = [(i, broken_limits(item, limits)) for i, item in enumerate(items)
                if broken_limits(item, limits) or not isinstance(item, dict)]
    assert [i for i, _ in bad] == [i for i, _ in want_bad]
    for (_, why), (_, broken) in zip(bad, want_bad, strict=True):
        assert any(b in why for b in broken) if broken else "not an object" in why


def test_limits_are_far_above_the_corpus(corpus) -> None:
    deepest = longest = longest_string = 0
    for path in corpus:
        for record in iter_file(str(path)):
            deepest = max(deepest, depth_of(record))
            longest = max(longest, len(json.dumps(record)))
            longest_string = max([longest_string, *(len(json.dumps(s)) - 2 for s in strings_of(record))])
    assert (deepest, longest, longest_string) <= (11, 6000, 2632)  # as stated in recordstream's docstring
    assert deepest * 4 < LIMITS.depth and longest * 30 < LIMITS.record_chars
    assert longest_string * 40 < LIMITS.string_chars


def record_at_depth(levels: int) -> dict[str, Any]:
    value: Any = {"leaf": [1, "x"]}
    for n in range(levels - 3):
        value = [value] if n % 2 else {"k": value}
    return {"eventID": "deep", "eventName": "CreateUser", "eventSource": "iam.amazonaws.com", "x": value}


def test_a_record_at_the_depth_limit_goes_through_the_engine_and_one_past_it_is_refused() -> None:
    at, past = record_at_depth(LIMITS.depth), record_at_depth(LIMITS.depth + 1)
    assert (depth_of(at), depth_of(past)) == (LIMITS.depth, LIMITS.depth + 1)
    got, bad, error = read_until_error(log_bytes([at, past, {"eventID": "after"}]))
    assert got == [at, {"eventID": "after"}] and error is None
    assert bad == [(1, f"record nested deeper than {LIMITS.depth} levels")]
    rules = [Rule("compiled", 'select(.eventName == "CreateUser" and .x == .x and (tojson | length) > 0)'),
             Rule("libjq", 'del(.y) | select([..] | length > 60) | .eventID'),
             Rule("libjq everything", "[paths] | length")]
    assert rules[0].python is not None and rules[1].python is None

    def deep_caller(frames: int) -> list[Any]:  # the record is evaluated below a deep call stack
        return deep_caller(frames - 1) if frames else Engine(rules).evaluate(got[0])

    matches = deep_caller(sys.getrecursionlimit() // 3)
    assert [m.rule.name for m in matches] == ["compiled", "libjq", "libjq everything"]
    assert json.loads(tojson(normalize(at))) == at and derive(at).event_name == "CreateUser"


def test_each_limit_is_exact_wherever_the_chunks_are_cut() -> None:
    limits = Limits(depth=3, record_chars=60, string_chars=8)
    fits = [{"s": "a" * 8}, {"s": 'ab\\"cd'}, {"a" * 8: [{}]}, {"a": [{"b": 1}]},
            {"x": "b" * 8, "y": "c" * 8, "z": "d" * 8, "w": 12}]
    too = [({"s": "a" * 9}, "string is longer"), ({"s": 'ab\\"cde'}, "string is longer"),
           ({"a" * 9: 1}, "string is longer"), ({"a": [{"b": []}]}, "nested deeper"),
           ({"x": "b" * 8, "y": "c" * 8, "z": "d" * 8, "w": 123}, "larger than")]
    assert len(json.dumps(fits[-1])) == 60 and len(json.dumps(too[-1][0])) == 61
    items: list[Any] = [x for pair in zip(fits, [t for t, _ in too], strict=True) for x in pair]
    text = json.dumps({"Records": items})
    for chunk in range(1, len(text) + 1):
        got, bad = read_chunked(text, chunk, limits)
        assert got == fits, chunk
        assert [i for i, _ in bad] == [2 * n + 1 for n in range(len(too))], chunk
        assert all(want in why for (_, why), (_, want) in zip(bad, too, strict=True)), (chunk, bad)


def random_value(rng: random.Random, depth: int) -> Any:
    """Bracket-heavy JSON: nested lists and objects, and strings holding brackets, quotes and escapes."""
    roll = rng.random()
    if depth > 9 or roll < 0.4:
        rare = ['{"', "\\]"] if roll < 0.02 else []
        return rng.choice([1, None, "]", "]]}}]]", "x" * rng.randrange(0, 40), "[[{", -2.5, *rare])
    if roll < 0.6:
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(0, 4))]
    return {rng.choice(["a", "]", "\\", '"}']): random_value(rng, depth + 1) for _ in range(rng.randrange(0, 4))}


def test_skipping_refused_records_in_bulk_never_runs_past_their_end() -> None:
    rng = random.Random(14)
    limits = Limits(depth=8, record_chars=3000, string_chars=2000)
    nested: Any = ["[[{", "]]}"] * 2000
    for _ in range(10):
        nested = [nested]
    items: list[Any] = [{"strings hold brackets": nested}, {"eventID": "0"}]
    while len(items) < 100:
        value = {"v": random_value(rng, 1), "w": [random_value(rng, 2) for _ in range(250)]}
        if broken_limits(value, limits) and len(json.dumps(value)) > 6000:  # long enough to be jumped over
            items += [value, {"eventID": str(len(items))}]
    text = json.dumps({"Records": items})
    for chunk in (997, 4096, 65536, len(text)):
        got, bad = read_chunked(text, chunk, limits)
        assert got == items[1::2] and [i for i, _ in bad] == list(range(0, len(items), 2)), chunk
