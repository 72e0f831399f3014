"""``make bench``: records/s and peak memory of the engine, side by side with its peers.

Every method runs in its own process over the same generated log file (50k records) with the 10 and
50 rules of ../shared/bench, interleaved and repeated; the figures are medians and the ratios are
taken within this one run (the machine is shared and noisy, so only side-by-side ratios mean much):

  run              the whole ``tattletail run --format jsonl`` process (start-up and config load included),
                   to compare with jq-cli, which is also a whole process
  engine           tattletail in-process: streaming parse, prefilter, rules compiled to Python (libjq for the rest)
  parse-only       the floor: decompress and parse the records, no rule at all
  no-compile       the same with compilation off: every rule in one combined libjq call per record
  no-prefilter     compilation off and prefilter off (one libjq call for every record)
  jq-cli           gzip -dc FILE | jq -c '.Records[] | all rules in one program'
  naive            libjq called once per rule per record (the Go tool's way), on the first records only

Peak memory is the child's maximum resident set (``wait4``); for the two whole-process methods, the
wall time, CPU time and peak memory are those of the measured command alone (the harness reads their
output after the timing). CPU seconds are shown beside records/s: other work on a shared machine
disturbs them least. A last line shows the engine's peak on a
file twice as large, to show memory does not grow with the file. Then ``correlations.py``: throughput
with the correlation pack enabled and without, and the state writes it takes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHARED_BENCH = ROOT.parent / "shared" / "bench"
DATA = HERE / "data"
sys.path.insert(0, str(ROOT))


def jq_cli_program(programs: list[str]) -> str:
    parts = [f"(try (first((\n{p}\n\n)) | select(. != null and . != false) | [$i, {j}]) catch empty)"
             for j, p in enumerate(programs)]
    return ".Records | range(length) as $i | .[$i] | (\n" + ",\n".join(parts) + "\n)"


class _Measured:
    """A whole-process method's command, measured alone: wall time around it, and the CPU seconds and
    peak memory of its processes (``RUSAGE_CHILDREN``), so the harness's own reading of the output is in
    neither figure."""

    def __init__(self, argv: list[str], ok: tuple[int, ...] = (0,), **kwargs: object) -> None:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        code = subprocess.run(argv, **kwargs).returncode  # type: ignore[call-overload]
        self.seconds = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if code not in ok:
            raise SystemExit(f"{argv[0]} exited with {code}")
        self.cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        self.peak_mb = after.ru_maxrss / 1024

    def result(self, records: int, matches: int, pairs: Any) -> dict:
        return {"records": records, "matches": matches, "seconds": self.seconds, "digest": pairs.hexdigest()[:16],
                "cpu": self.cpu, "peak_mb": self.peak_mb}


def one(method: str, rules_path: str, log_path: str, limit: int | None) -> dict:
    """Run one method in this process; return records, matches and a digest of (record, rule) pairs."""
    from tattletail.config import loader as config
    from tattletail.engine import Engine
    from tattletail.inputs.logfile import iter_file

    rules = list(config.load(rules_path).rules)
    index = {rule.name: j for j, rule in enumerate(rules)}
    pairs = hashlib.sha256()
    records = matches = 0
    started, started_cpu = time.perf_counter(), time.process_time()
    if method == "parse-only":
        for _ in iter_file(log_path):
            records += 1
    elif method == "run":
        tattletail = str(Path(sys.executable).with_name("tattletail"))
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            command = _Measured([tattletail, "run", "--config", rules_path, "--format", "jsonl", log_path],
                                stdout=out, stderr=err, ok=(0, 1))  # 1: some rule failed on some records
            out.seek(0)
            for line in out:  # read after the timing, line by line: the harness's work is not counted
                row = json.loads(line)
                matches += 1
                pairs.update(f"{row['index']},{index[row['rule']]};".encode())
            err.seek(0)
            records = int(err.read().decode().split(" files, ")[1].split(" records")[0])
        return command.result(records, matches, pairs)
    elif method in ("engine", "no-compile", "no-prefilter"):
        engine = Engine(rules, prefilter=method != "no-prefilter", compiled=method == "engine")
        for i, record in enumerate(iter_file(log_path)):
            records += 1
            for match in engine.evaluate(record):
                matches += 1
                pairs.update(f"{i},{index[match.rule.name]};".encode())
    elif method == "naive":
        for i, record in enumerate(iter_file(log_path)):
            if limit is not None and i >= limit:
                break
            records += 1
            for j, rule in enumerate(rules):
                try:
                    value = next(iter(rule.program.input_value(record)), None)
                except ValueError:
                    continue
                if value is not None and value is not False:
                    matches += 1
                    pairs.update(f"{i},{j};".encode())
    elif method == "jq-cli":
        program = jq_cli_program([rule.jq_match for rule in rules])
        with tempfile.TemporaryFile() as out:
            command = _Measured(["sh", "-c", f"gzip -dc {shlex.quote(log_path)} | jq -c {shlex.quote(program)}"],
                                stdout=out)
            out.seek(0)
            for line in out:
                i, j = json.loads(line)
                matches += 1
                pairs.update(f"{i},{j};".encode())
        records = int(subprocess.run(["sh", "-c", f"gzip -dc {shlex.quote(log_path)} | jq '.Records|length'"],
                                     check=True, capture_output=True).stdout)  # not timed
        return command.result(records, matches, pairs)
    seconds = time.perf_counter() - started
    return {"records": records, "matches": matches, "seconds": seconds, "digest": pairs.hexdigest()[:16],
            "cpu": time.process_time() - started_cpu}  # the loop's, like its wall time (not the start-up)


def measure(method: str, rules: Path, log: Path, limit: int | None) -> dict:
    """Run ``one`` in a child process; add its peak resident memory in MB and the CPU seconds it and its
    own children (``tattletail run``, ``gzip | jq``) used: on a shared machine CPU time is the figure
    other work disturbs least, so ratios are given both ways."""
    argv = [sys.executable, __file__, "--one", method, str(rules), str(log)]
    if limit:
        argv += ["--limit", str(limit)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE)
    out = proc.stdout.read() if proc.stdout else b""
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"{method} failed with status {status}")
    result = json.loads(out)
    result.setdefault("peak_mb", usage.ru_maxrss / 1024)  # whole-process methods measure their command alone
    result.setdefault("cpu", usage.ru_utime + usage.ru_stime)
    return result


def ensure_log(records: int) -> Path:
    path = DATA / f"{records // 1000}k.json.gz"
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, str(HERE / "generate.py"), str(path), "--records", str(records)], check=True)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--one", nargs=3, metavar=("METHOD", "RULES", "LOG"))
    parser.add_argument("--limit", type=int)
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--naive-records", type=int, default=2_000)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(*args.one, args.limit)))
        return
    if not SHARED_BENCH.is_dir():
        raise SystemExit(f"{SHARED_BENCH} is absent: the bench rule sets are needed")
    log = ensure_log(args.records)
    print(f"log file: {log.name}, {args.records} records, {log.stat().st_size / 1e6:.1f} MB gzipped; "
          f"median of {args.repeat} runs each; python {sys.version.split()[0]}")
    methods = ["run", "jq-cli", "engine", "parse-only", "no-compile", "no-prefilter", "naive"]
    for rules_name in ("rules10.toml", "rules50.toml"):
        rules = SHARED_BENCH / rules_name
        n_rules = len(tomllib.loads(rules.read_text())["rule"])
        runs: dict[str, list[dict]] = {m: [] for m in methods}
        for _ in range(args.repeat):
            for method in methods:
                limit = args.naive_records if method == "naive" else None
                runs[method].append(measure(method, rules, log, limit))
        rate = {m: statistics.median(r["records"] / r["seconds"] for r in runs[m]) for m in methods}
        cpu_rate = {m: statistics.median(r["records"] / r["cpu"] for r in runs[m]) for m in methods}
        print(f"\n{n_rules} rules ({rules_name})")
        print(f"  {'method':<14}{'records/s':>11}{'rec/CPU s':>11}{'peak MB':>9}{'matches':>9}  {'x engine':>8}")
        for m in methods:
            peak = statistics.median(r["peak_mb"] for r in runs[m])
            note = f" (first {args.naive_records} records)" if m == "naive" else ""
            print(f"  {m:<14}{rate[m]:>11,.0f}{cpu_rate[m]:>11,.0f}{peak:>9.0f}{runs[m][0]['matches']:>9}  "
                  f"{rate['engine'] / rate[m]:>7.2f}x{note}")
        print(f"  whole process: run is {rate['run'] / rate['jq-cli']:.2f}x the jq command-line tool "
              f"({cpu_rate['run'] / cpu_rate['jq-cli']:.2f}x in CPU time); in-process: engine is "
              f"{rate['engine'] / rate['parse-only']:.2f}x the parse-only floor "
              f"({cpu_rate['engine'] / cpu_rate['parse-only']:.2f}x in CPU time)")
        same = len({runs[m][0]["digest"] for m in ("run", "engine", "no-compile", "no-prefilter", "jq-cli")}) == 1
        print(f"  identical (record, rule) matches, run / engine / no-compile / no-prefilter / jq-cli: "
              f"{'yes' if same else 'NO'}")
    empty = DATA / "empty.json"
    empty.write_text('{"Records": []}')
    starts = [measure("run", SHARED_BENCH / "rules10.toml", empty, None) for _ in range(5)]
    print(f"\nstart-up (tattletail run on an empty log file, 10 rules): "
          f"{statistics.median(r['seconds'] for r in starts):.3f} s, median of 5")
    big = ensure_log(args.records * 2)
    small_peak = measure("engine", SHARED_BENCH / "rules10.toml", log, None)["peak_mb"]
    big_peak = measure("engine", SHARED_BENCH / "rules10.toml", big, None)["peak_mb"]
    print(f"\nengine peak memory, 10 rules: {small_peak:.0f} MB on {args.records} records, "
          f"{big_peak:.0f} MB on {args.records * 2} records")

    from correlations import report as correlation_report  # bench/correlations.py

    with tempfile.TemporaryDirectory() as tmp:
        correlation_report(SHARED_BENCH / "rules50.toml", log, args.repeat, Path(tmp))


if __name__ == "__main__":
    main()
