"""``python bench/hostile.py``: time and peak memory of the log reader on hostile files, medians of 3.

Each file is generated here, streaming and gzipped (small on disk, large once decompressed), into
``bench/data/hostile`` (kept between runs). Each run is a fresh process that reads every record with
``iter_records`` and reports its wall time and peak resident memory (``VmHWM``); the figures are the
medians of ``--runs`` runs. The cases are the ones of issue 14 that reach the reader: escaped quotes
that a scanner must not walk one by one, lone surrogates, nesting, numbers, encodings and gzip damage.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import statistics
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "data" / "hostile"
MB = 1 << 20
TIMEOUT = 300  # seconds per run

CHILD = r"""
import json, sys, time
from tattletail.errors import TattletailError
from tattletail.inputs.logfile import iter_records
start = time.perf_counter()
read = bad = 0
error = None
with open(sys.argv[1], "rb") as fh:
    try:
        for _ in iter_records(fh, "hostile", lambda i, why: None):
            read += 1
    except TattletailError as exc:
        error = str(exc)[:80]
seconds = time.perf_counter() - start
with open("/proc/self/status") as status:
    peak = int(next(line for line in status if line.startswith("VmHWM:")).split()[1])
print(json.dumps({"seconds": seconds, "peak_kb": peak, "records": read, "error": error}))
"""


def good(n: int) -> str:
    return json.dumps({"eventVersion": "1.08", "eventID": f"good-{n}", "eventName": "CreateUser",
                       "eventSource": "iam.amazonaws.com", "requestParameters": {"userName": f"user{n}"}})


def repeat(text: str, times: int) -> Iterator[str]:
    per = max(1, MB // max(1, len(text)))
    while times > 0:
        yield text * min(per, times)
        times -= per


def around(*middle: Iterable[str] | str, after: Iterable[Iterable[str] | str] = ()) -> list[Iterable[str] | str]:
    return ['{"Records": [', good(1), ",", *middle, ",", good(2), "]", *after, "}"]


def write(path: Path, parts: Iterable[Iterable[str] | str], *, raw: bytes = b"") -> None:
    with gzip.open(path, "wb", compresslevel=6) as fh:
        fh.write(raw)
        for part in parts:
            for piece in [part] if isinstance(part, str) else part:
                fh.write(piece.encode("utf-8", "surrogatepass"))


def truncated(path: Path, parts: list[Iterable[str] | str]) -> None:
    write(path, parts)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])


def concatenated(path: Path) -> None:
    half = len('{"Records": [') + 10
    text = '{"Records": [' + ",".join(good(n) for n in range(20_000)) + "]}"
    path.write_bytes(gzip.compress(text[:half].encode()) + gzip.compress(text[half:].encode()))


CASES: dict[str, Callable[[Path], None]] = {
    "100 MB of \\\" in a record string": lambda p: write(p, around('{"eventID": "q", "s": "', repeat('\\"', 50 * MB),
                                                                 '"}')),
    "100 MB of \\\" in a string outside Records": lambda p: write(p, around(good(3), after=[', "pad": "',
                                                                                         repeat('\\"', 50 * MB), '"'])),
    "100 MB of \\\\\\\" (escaped backslash, quote)": lambda p: write(p, around('{"eventID": "q", "s": "',
                                                                            repeat('\\\\\\"', 25 * MB), '"}')),
    "1M lone surrogates": lambda p: write(p, around(repeat('{"eventID": "s", "x": "\\ud800"},', MB), good(3))),
    "deep 10M brackets": lambda p: write(p, around('{"x": ', repeat("[", 5 * MB), repeat("]", 5 * MB), "}")),
    "100 MB number": lambda p: write(p, around('{"eventID": "n", "v": ', repeat("9", 100 * MB), "}")),
    "1M numbers out of range": lambda p: write(p, around(repeat('{"eventID": "n", "v": 1e400, "w": '
                                                                '18446744073709551616},', MB), good(3))),
    "invalid UTF-8 and a BOM": lambda p: write(p, around(repeat('{"eventID": "u", "x": "\xff\xfe"},', MB), good(3)),
                                              raw=b"\xef\xbb\xbf"),
    "truncated gzip of 20k records": lambda p: truncated(p, around(",".join(good(n) for n in range(20_000)))),
    "concatenated gzip members": concatenated,
    "100 MB of short escaped strings in a record": lambda p: write(p, around('{"eventID": "e", "x": [',
                                                                          repeat('"\\"\\"\\"\\"",', 100 * MB // 11),
                                                                          "1]}")),
    "500,000 empty gzip members": lambda p: p.write_bytes(gzip.compress(b'{"Records": [' + good(1).encode() + b",")
                                                          + gzip.compress(b"") * 500_000
                                                          + gzip.compress(good(2).encode() + b"]}")),
    "Records not first, 200 MB key value before": lambda p: write(p, ['{"pad": "', repeat("B", 200 * MB), '", ',
                                                                     '"Records": [', good(1), "]}"]),
}


def run(path: Path) -> dict[str, object]:
    try:
        proc = subprocess.run([sys.executable, "-c", CHILD, str(path)], cwd=ROOT, capture_output=True, check=False,
                              timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return {"seconds": float("inf"), "peak_kb": 0, "records": 0, "error": f"not done in {TIMEOUT} s"}
    if proc.returncode != 0:
        return {"seconds": float("nan"), "peak_kb": 0, "records": 0, "error": proc.stderr.decode()[-200:]}
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("-k", default="", help="only the cases whose name holds this text")
    args = parser.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)
    print(f"{'case':46} {'on disk':>10} {'seconds':>8} {'peak MB':>8} {'records':>8}  error")
    for name, make in CASES.items():
        if args.k not in name:
            continue
        path = DATA / f"{hashlib.sha1(name.encode()).hexdigest()[:12]}.json.gz"  # noqa: S324 - a file name
        if not path.exists():
            make(path)
        results = [run(path) for _ in range(args.runs)]
        seconds = statistics.median(float(r["seconds"]) for r in results)  # type: ignore[arg-type]
        peak = statistics.median(int(r["peak_kb"]) for r in results) / 1024  # type: ignore[call-overload]
        last = results[-1]
        print(f"{name:46} {path.stat().st_size:>10,} {seconds:>8.2f} {peak:>8.0f} {last['records']:>8}  "
              f"{last['error'] or ''}", flush=True)


if __name__ == "__main__":
    main()
