"""Files of history over worker processes, results in file order (``replay``, ``report sessions``).

The job (an engine and what to do with each match) is built once in this process before the workers
are forked, so each worker starts with the config already loaded and its rules already compiled, and
an S3 client is made once per worker, not per file. Results come back in file order, so output is the
same with 1 or N workers.
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
    import multiprocessing  # here: a single file (``tattletail run``) does not pay for loading it

    with multiprocessing.get_context("fork").Pool(min(workers, len(refs))) as pool:
        yield from pool.imap(_run, refs, chunksize=1)
