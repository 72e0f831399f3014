"""Hostile text in a log file, in-process: what jq reads the reader reads, and a huge value costs C time
only and stops at the deadline.

- a lone surrogate escape is U+FFFD for every path of the engine (compiled, prefilter, libjq, isolated);
- the closing quote of a string is found as a character-by-character scan finds it, wherever the text is
  cut, and a run of escaped quotes is skipped in bulk; the reader's ``check`` stops a huge value;
- the structure jq accepts is read: a byte order mark, ``Records`` after other keys or spelled with
  escapes, a ``Records`` that is not a list beside one that is.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tattletail.config import loader
from tattletail.delivery import retry
from tattletail.delivery.dispatch import Dispatcher
from tattletail.delivery.report import Report
from tattletail.engine import Engine
from tattletail.errors import NotCloudTrail, SourceError
from tattletail.inputs import scan
from tattletail.inputs.logfile import iter_records
from tattletail.inputs.recordstream import Limits, Reader, read_records
from tattletail.pipeline import process_stream
from tattletail.rules import Rule
from tests.helpers import FakeSlack

MB = 1 << 20


def read_text(text: str, chunk: int | None = None) -> tuple[list[dict[str, Any]], list[tuple[int, str]]]:
    """The records and bad records of ``text``, given whole or in chunks of ``chunk`` characters."""
    bad: list[tuple[int, str]] = []
    size = chunk or len(text)
    reader = Reader(iter([text[i:i + size] for i in range(0, len(text), size)]))
    return list(read_records(reader, "obj", lambda i, why: bad.append((i, why)))), bad


# ---------------------------------------------------------------- lone surrogates

SURROGATES = ('{"eventID": "s1", "eventName": "CreateUser", "x": "a\\ud800b", '
              '"k": {"\\udc00": "lone low key"}, "pair": "\\ud83d\\ude00", "list": ["\\udbff\\ud800"]}')


@pytest.mark.parametrize("chunk", [None, 1, 9], ids=["whole", "1-char chunks", "9-char chunks"])
def test_a_lone_surrogate_is_read_as_jq_reads_it_u_fffd(chunk: int | None) -> None:
    # whole: the one-call parse; in chunks: the careful path, record by record
    text = '{"Records": [' + SURROGATES + ', {"eventID": "after"}]}'
    got, bad = read_text(text, chunk)
    assert bad == [] and [r["eventID"] for r in got] == ["s1", "after"]
    record = got[0]
    assert record["x"] == "a\ufffdb" and record["k"] == {"\ufffd": "lone low key"}
    assert record["pair"] == "\U0001f600" and record["list"] == ["\ufffd\ufffd"]  # a pair stays one character
    json.dumps(record).encode("utf-8")  # nothing left that UTF-8 cannot carry (an alert, a dead letter)


def test_every_engine_path_sees_and_matches_the_same_record_with_lone_surrogates() -> None:
    want = 'select(.x == "a\\ufffdb" and .k["\\ufffd"] == "lone low key" and (.x | length) == 3)'
    rules = [Rule("compiled", want),
             Rule("libjq", f"del(.nothing) | {want} | .eventID"),
             Rule("isolated", f"def f: if . > 2 then . else (. + 1 | f) end; (0 | f) as $n | {want}")]
    engine = Engine(rules)
    assert rules[0].python is not None and rules[1].python is None
    assert [r.name for r in engine.isolated] == ["isolated"]
    errors: list[str] = []
    try:
        (record,), _ = read_text('{"Records": [' + SURROGATES + "]}")
        from_reader = [m.rule.name for m in engine.evaluate(record, lambda r, rec, why: errors.append(why))]
        # a record that did not come through the reader (a test event, a replayed finding): the same answer
        raw = json.loads(SURROGATES)
        assert raw["x"] == "a\ud800b"
        direct = [m.rule.name for m in engine.evaluate(raw, lambda r, rec, why: errors.append(why))]
    finally:
        engine.close()
    assert errors == []
    assert from_reader == direct == ["compiled", "libjq", "isolated"]


# ---------------------------------------------------------------- escaped quotes

def scan_by_char(buf: str) -> tuple[int, list[int]]:
    """The reference, a scan one character at a time from the start of a string's text: where it ends
    (a final backslash waits for the character it escapes), and the positions between escapes before."""
    i, starts = 0, []
    while i < len(buf):
        starts.append(i)
        if buf[i] == "\\":
            if i + 1 == len(buf):
                return i, starts
            i += 2
        elif buf[i] == '"':
            return i, starts
        else:
            i += 1
    return len(buf), starts + [len(buf)]


@settings(derandomize=True, max_examples=400, deadline=None)
@given(parts=st.lists(st.sampled_from(['\\"', "\\\\", '"', "a", "\\", "\\n", "x" * 5000, '\\"' * 3000,
                                       "\\" * 4097]), max_size=12),
       pick=st.integers(0, 10**6))
def test_the_closing_quote_is_found_as_a_char_by_char_scan_finds_it(parts: list[str], pick: int) -> None:
    buf = "".join(parts)
    end, starts = scan_by_char(buf)
    start = starts[pick % len(starts)] if starts else 0  # the reader resumes between escapes
    assert scan.string_end(buf, start) == end


@pytest.mark.parametrize("escaped", ['\\"', '\\\\\\"', '\\\\\\\\\\"'], ids=['\\"', '\\\\\\"', '\\\\\\\\\\"'])
@pytest.mark.parametrize("chunk", [7, 4096, 65536])
def test_a_long_run_of_escaped_quotes_is_skipped_and_the_records_after_it_are_read(escaped: str, chunk: int) -> None:
    limits = Limits(string_chars=1000, record_chars=5000)
    text = ('{"Records": [{"eventID": "1"}, {"s": "' + escaped * 20_000 + '"}, "' + escaped * 20_000 + '",'
            '{"eventID": "2"}], "pad": "' + escaped * 20_000 + '"}')
    bad: list[tuple[int, str]] = []
    reader = Reader(iter([text[i:i + chunk] for i in range(0, len(text), chunk)]), limits)
    got = list(read_records(reader, "obj", lambda i, why: bad.append((i, why))))
    assert got == [{"eventID": "1"}, {"eventID": "2"}]
    assert [(i, "longer than 1,000" in why or "larger than" in why) for i, why in bad] == [(1, True), (2, True)]


def test_the_reader_calls_check_every_megabyte_and_what_it_raises_ends_the_reading() -> None:
    class Stop(Exception):
        pass

    def chunks() -> Iterator[str]:
        yield '{"Records": [{"eventID": "1"}, {"s": "'
        while True:  # a string that never ends
            yield '\\"' * (128 << 10)

    calls = [0]

    def check() -> None:
        calls[0] += 1
        if calls[0] == 5:
            raise Stop

    reader = Reader(chunks(), check=check)
    got = []
    with pytest.raises(Stop):
        for record in read_records(reader, "obj", lambda i, why: None):
            got.append(record)
    assert got == [{"eventID": "1"}] and calls[0] == 5
    assert 4 * scan.CHECK_EVERY <= reader.consumed + len(reader.buf) <= 5 * scan.CHECK_EVERY  # 5 MB, not more


def test_the_reader_checks_the_time_through_a_run_of_empty_gzip_members() -> None:
    # no text at all for many megabytes of input: each member's end still counts
    data = (gzip.compress(b'{"Records": [{"eventID": "1"},') + gzip.compress(b"") * 3000
            + gzip.compress(b'{"eventID": "2"}]}'))
    calls = [0]

    def check() -> None:
        calls[0] += 1

    assert [r["eventID"] for r in iter_records(io.BytesIO(data), "obj", check=check)] == ["1", "2"]
    assert calls[0] >= 3000 * scan.EMPTY_CHUNK // scan.CHECK_EVERY


class EscapedQuotes(io.RawIOBase):
    """A plain log file of ``size`` bytes, made on the fly: two matching records, then a record whose
    string is nothing but escaped quotes. Each read moves ``clock`` on by a second."""

    def __init__(self, size: int, clock: list[float]) -> None:
        head = ('{"Records": [' + ",".join(json.dumps({"eventID": f"good-{n}", "eventName": "CreateUser"})
                                           for n in (1, 2)) + ', {"eventID": "q", "s": "').encode()
        self.parts = [head, b'\\"' * ((size - len(head)) // 2), b'"}]}']
        self.clock = clock
        self.served = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        self.clock[0] += 1.0
        while self.parts and self.served >= len(self.parts[0]):
            self.parts.pop(0)
            self.served = 0
        if not self.parts:
            return b""
        out = self.parts[0][self.served:self.served + size]
        self.served += len(out)
        return out


def test_skipping_a_huge_string_of_escaped_quotes_stops_at_the_deadline_and_delivers_what_was_found(
        slack: FakeSlack) -> None:
    config = loader.loads(f'''
[[rule]]
name = "Create User"
jq_match = 'select(.eventName == "CreateUser")'
destinations = ["Slack"]

[[destination]]
id = "Slack"
type = "slack_webhook"
webhook_url = "{slack.url()}"
digest_threshold = 0
''')
    clock = [0.0]
    dispatcher = Dispatcher(config, policy=retry.RetryPolicy(reserve=10.0),
                            deadline=retry.Deadline.after(100.0, lambda: clock[0]))
    size = 40 * MB
    report = process_stream(EscapedQuotes(size, clock), Report("big.json"), Engine(config.rules),  # type: ignore[arg-type]
                            dispatcher=dispatcher)
    # 64 KiB per read and a second each: reading must stop once less than 20 s are left, i.e. after about
    # 80 reads (5 MB); the reader looks at the clock every megabyte, whatever value it is in
    (failure,) = report.failures
    assert failure.startswith("big.json: not finished in time: 2 records evaluated, ")
    read = int(failure.split(" records evaluated, ")[1].split(" bytes")[0])
    assert 80 * 64 << 10 <= read <= 100 * 64 << 10 < size
    assert report.alerts_delivered == 2 and len(slack.posts) == 2


# ---------------------------------------------------------------- the structure jq accepts

@pytest.mark.parametrize(("data", "want"), [
    (b'\xef\xbb\xbf{"Records": [{"eventID": "bom"}]}', ["bom"]),
    (gzip.compress(b'\xef\xbb\xbf{"Records": [{"eventID": "bom"}]}'), ["bom"]),
    (b'{"pad": {"Records": [{"eventID": "no"}]}, "Records": [{"eventID": "second key"}]}', ["second key"]),
    (b'{"Rec\\u006frds": [{"eventID": "escaped key"}]}', ["escaped key"]),
    (b'{"Records": null, "Records": [{"eventID": "the list"}]}', ["the list"]),
])
def test_a_log_object_jq_reads_is_read(data: bytes, want: list[str]) -> None:
    assert [r["eventID"] for r in iter_records(io.BytesIO(data), "obj")] == want


@pytest.mark.parametrize(("data", "error", "message"), [
    (b'{"pad": 1, "other": [1, 2]}', NotCloudTrail, "not a CloudTrail log file"),
    (b'{"Records": {"a": 1}, "pad": 1}', SourceError, "Records is not a list"),
    (b"\xef\xbb\xbf[1]", NotCloudTrail, "not a CloudTrail log file"),
])
def test_an_object_without_a_records_list_is_refused_after_reading_it(data: bytes, error: type[Exception],
                                                                      message: str) -> None:
    with pytest.raises(error, match=message):
        list(iter_records(io.BytesIO(data), "obj"))


# ---------------------------------------------------------------- bad records cost what good ones do


def test_short_refused_records_are_stepped_through_not_window_scanned(monkeypatch: pytest.MonkeyPatch) -> None:
    # 2,000 records nested 65 deep between two good ones: before issue 14 each refused record scanned a
    # 4 KiB window of the records after it (8 passes of bytes.replace), ~100x a good record's cost
    calls: list[int] = []
    real = scan._skip_refused

    def counting(buf: str, i: int, depth: int, window: int) -> tuple[int, int, int]:
        calls.append(i)
        return real(buf, i, depth, window)

    monkeypatch.setattr(scan, "_skip_refused", counting)
    deep = "[" * 65 + "]" * 65
    text = '{"Records": [{"eventID": "first"},' + ",".join([deep] * 2000) + ',{"eventID": "last"}]}'
    got, bad = read_text(text)
    assert [r["eventID"] for r in got] == ["first", "last"]
    assert len(bad) == 2000 and all("nested deeper than 64 levels" in why for _, why in bad)
    assert calls == []


def test_a_long_refused_value_is_still_jumped_over_in_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = scan._skip_refused

    def counting(buf: str, i: int, depth: int, window: int) -> tuple[int, int, int]:
        calls.append(i)
        return real(buf, i, depth, window)

    monkeypatch.setattr(scan, "_skip_refused", counting)
    bomb = "[" * 100 + "[]," * 200_000 + "]" * 100
    got, bad = read_text('{"Records": [' + bomb + ',{"eventID": "after"}]}')
    assert [r["eventID"] for r in got] == ["after"] and len(bad) == 1
    assert 0 < len(calls) < 200  # windows doubling up to 1 MiB, not one step per bracket


def test_the_deadline_check_is_called_while_empty_deflate_blocks_give_no_text() -> None:
    # 20 MB of empty stored blocks before one record: no text comes out, yet the reader's check (the
    # Lambda's deadline) must be called as the compressed input is consumed (190 MB of them: 0 checks)
    import struct
    import zlib

    good = json.dumps({"Records": [{"eventID": "g1", "eventName": "CreateUser"}]}).encode()
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + b"\x00\x00\x00\xff\xff" * 4_000_000
            + deflate.compress(good) + deflate.flush() + struct.pack("<II", zlib.crc32(good), len(good)))
    calls: list[int] = []
    got = list(iter_records(io.BytesIO(data), "empty-blocks", check=lambda: calls.append(1)))
    assert [r["eventID"] for r in got] == ["g1"]
    assert len(calls) >= 15  # about one per MB of compressed input consumed
