"""Files of history over worker processes, results in file order (``replay``, ``report sessions``).

The job (an engine and what to do with each match) is built once in this process before the workers
are forked, so each worker starts with the config already loaded and its rules already compiled, and
an S3 client is made once per worker, not per file. Results come back in file order, so output is the
same with 1 or N workers.

A worker can die (the OOM killer, a crash in a C extension). ``multiprocessing.Pool`` would then wait
forever for its result; ``concurrent.futures`` reports it (``BrokenProcessPool``), and every file still
in flight fails with it, the culprit and its neighbours alike. So the first file in flight is read
again alone, in a fresh worker: if that worker dies too, the file is reported as failed (its
``Report.error``), else its result is kept; then the rest goes on in a fresh pool. Each death costs one
file, never the run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from tattletail import aws
from tattletail.delivery.report import Report
from tattletail.inputs.history import LogRef

FileJob = Callable[[LogRef, Any], Report]  # (file, S3 client or None) -> its report

_job: FileJob | None = None
_s3: Any = None


def _run(ref: LogRef) -> Report:
    global _s3
    assert _job is not None
    if ref.bucket is not None and _s3 is None:
        _s3 = aws.client("s3")
    return _job(ref, _s3)


def run_files(job: FileJob, refs: list[LogRef], *, workers: int) -> Iterator[Report]:
    """``job`` over every file, in file order, on ``workers`` processes (1: in this process)."""
    global _job, _s3
    _job, _s3 = job, None
    if workers <= 1 or len(refs) <= 1:
        yield from map(_run, refs)
        return
    # here: a single file (``tattletail run``) does not pay for loading multiprocessing
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    context = multiprocessing.get_context("fork")
    start = 0
    while start < len(refs):
        pool = ProcessPoolExecutor(min(workers, len(refs) - start), mp_context=context)
        try:
            futures = [pool.submit(_run, ref) for ref in refs[start:]]
            for future in futures:
                report = future.result()
                start += 1
                yield report
            return
        except BrokenProcessPool:
            pass
        finally:  # also when the reader stops early: files not started are not read
            pool.shutdown(wait=True, cancel_futures=True)
        # a worker died while refs[start] was in flight: read it alone to know whether it is the culprit
        with ProcessPoolExecutor(1, mp_context=context) as alone:
            try:
                report = alone.submit(_run, refs[start]).result()
            except BrokenProcessPool:
                report = Report(refs[start].name, error=f"{refs[start].name}: the worker process reading it "
                                                        "died (killed, out of memory?); not evaluated")
        start += 1
        yield report
