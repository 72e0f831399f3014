from __future__ import annotations

import os
import signal
import threading
from typing import Any

from tattletail.commands.parallel import run_files
from tattletail.delivery.report import Report
from tattletail.inputs.history import LogRef


def _dies_on_b(ref: LogRef, s3: Any) -> Report:
    if ref.name == "b":
        os.kill(os.getpid(), signal.SIGKILL)  # as the OOM killer would
    return Report(ref.name, records=len(ref.name))


def test_a_dead_worker_fails_its_file_and_the_run_goes_on() -> None:
    refs = [LogRef(name, path=name) for name in ("a", "b", "c", "dd")]
    reports: list[Report] = []
    # a hang guard, not a timing: multiprocessing.Pool waited forever for the dead worker's result
    reader = threading.Thread(target=lambda: reports.extend(run_files(_dies_on_b, refs, workers=2)), daemon=True)
    reader.start()
    reader.join(120)
    assert not reader.is_alive(), "run_files hung on a dead worker"
    assert [r.name for r in reports] == ["a", "b", "c", "dd"]  # file order kept
    assert reports[1].error is not None and "worker process reading it died" in reports[1].error
    # the files in flight beside the culprit are read again, not lost
    assert [(r.error, r.records) for r in (reports[0], reports[2], reports[3])] == [(None, 1), (None, 1), (None, 2)]


def test_results_come_in_file_order_with_several_workers() -> None:
    refs = [LogRef("x" * n, path=str(n)) for n in range(1, 8)]
    assert [r.records for r in run_files(_dies_on_b, refs, workers=3)] == list(range(1, 8))
