"""A long-lived child process that evaluates unproven jq rules under a wall-clock budget.

Design, and why: libjq offers no way to stop a running program, and when its allocator fails it calls
``abort()``. Python cannot interrupt it either: a thread cannot be killed, and a signal handler runs only
between bytecodes (and only on the main thread, which the engine may not be on). The only stop that always
works is killing a process. So the rules that ``tattletail.guard`` cannot prove terminating run here, in
one child per engine, started on first use and reused across records and Lambda invocations:

- the parent writes one line per record (the rule slots to try, then the record as compact JSON, which
  holds no raw newline) and reads one line per rule, with ``select`` on the pipe and a deadline per rule;
  no signal and no thread is involved, so it works on any thread;
- a rule that does not answer within its budget, or a child that dies (``abort()`` from libjq, the
  address-space limit set in the child, the OOM killer), costs one kill and one restart; the rules after
  it on that record are evaluated by the new child;
- the child's address space is limited (``RLIMIT_AS``) so that an allocating rule fails there instead of
  taking the Lambda's memory;
- an answer is bounded too (``answer_limit``: 1 MB, or twice the record when that is larger, as a rule
  that outputs the record itself must still match): the child refuses to send a larger output (a rule
  error), and the parent never buffers more than that from the pipe (a child that writes more is killed),
  so a rule building a huge value costs the parent nothing.

Cost: rules proven terminating (all real rules so far) never come here, so the common path is unchanged.
An unproven rule pays a pipe round trip and a JSON encode/decode per record it is a candidate for (tens of
microseconds, against ~5 for the in-process path); a child start (Python, libjq and the programs) takes
about 0.1 s and happens once, then once per overrun or crash.

The child runs this module (``serve``) and needs nothing else of ours.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import sys
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

STARTUP_SECONDS = 20.0  # a child that is not ready by then is reported as broken
ANSWER_BYTES = 1 << 20  # the least an answer may take; see answer_limit


def answer_limit(record_bytes: int) -> int:
    """The largest answer (one JSON line) accepted for a record of ``record_bytes``: a rule's output is
    usually small, but one that outputs the record itself (or a large part of it) must still match."""
    return max(ANSWER_BYTES, 2 * record_bytes + 1024)


@dataclass(frozen=True)
class Outcome:
    """One rule on one record: ``value`` (its first output) when ``kind`` is ``output``; ``message`` for
    ``error`` (jq's runtime error), ``overrun`` (budget exceeded, child killed) and ``crashed``."""

    kind: str  # output, none, error, overrun, crashed
    value: Any = None
    message: str = ""


class SandboxBroken(Exception):
    """The child cannot be started (no interpreter, programs that do not compile there)."""


def memory_limit_bytes(environ: Mapping[str, str] | None = None) -> int:
    """The child's address-space limit: half the Lambda's memory (the parent keeps the rest), at least
    128 MB (Python and libjq map ~30 MB of address space before doing anything), 1 GB outside Lambda."""
    from tattletail import settings

    env = os.environ if environ is None else environ
    size = env.get(settings.LAMBDA_MEMORY, "")
    megabytes = max(128, int(size) // 2) if size.isdigit() else 1024
    return megabytes << 20


class Sandbox:
    """Evaluates ``programs`` (by slot) on records in a child process."""

    def __init__(self, programs: Sequence[str], *, memory_limit: int | None = None) -> None:
        self.programs = list(programs)
        self.memory_limit = memory_limit if memory_limit is not None else memory_limit_bytes()
        self.starts = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._buffer = b""
        self._eof = False  # the last _line found the child's output closed (it died)
        self._overflow = False  # the last _line found more than its limit without a line end
        self._finalizer: weakref.finalize | None = None  # type: ignore[type-arg]

    # ------------------------------------------------------------- lifecycle

    def _start(self) -> subprocess.Popen[bytes]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)  # the parent's modules, in Lambda too
        if not sys.executable:
            raise SandboxBroken("no Python interpreter to start the isolation child with")
        try:
            proc = subprocess.Popen(
                [sys.executable, "-c", "from tattletail.sandbox import serve; serve()"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
                close_fds=True)
        except OSError as exc:
            raise SandboxBroken(f"cannot start the isolation child: {exc}") from None
        self.starts += 1
        self._proc, self._buffer = proc, b""
        self._finalizer = weakref.finalize(self, _kill, proc)
        try:
            self._send(json.dumps({"memory_limit": self.memory_limit, "programs": self.programs}))
            ready = self._line(time.monotonic() + STARTUP_SECONDS)
        except OSError as exc:
            ready = None
            self.close()
            raise SandboxBroken(f"the isolation child failed at start: {exc}") from None
        if ready != b'"ready"':
            detail = _death(proc) if ready is None else ready.decode(errors="replace")[:300]
            self.close()
            raise SandboxBroken(f"the isolation child failed at start: {detail}")
        return proc

    def close(self) -> None:
        """Kill the child (a new one starts on the next evaluation)."""
        if self._finalizer is not None:
            self._finalizer()
        self._proc, self._finalizer, self._buffer = None, None, b""

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    # ------------------------------------------------------------- evaluation

    def evaluate(self, record_text: str, slots: Sequence[int],
                 budget: float | Mapping[int, float]) -> list[tuple[int, Outcome]]:
        """Each slot's outcome on the record, in order; each rule gets ``budget`` seconds of wall clock
        (one for all, or per slot). Raises ``SandboxBroken`` only when no child can be started at all."""
        results: list[tuple[int, Outcome]] = []
        pending = list(slots)
        while pending:
            proc = self._proc or self._start()
            try:
                self._send(json.dumps(pending) + "\n" + record_text)
            except OSError:  # died between records (killed from outside): start again, once
                self.close()
                proc = self._start()
                self._send(json.dumps(pending) + "\n" + record_text)
            limit = answer_limit(len(record_text))
            while pending:
                slot = pending[0]
                allowed = budget if isinstance(budget, (int, float)) else budget[slot]
                line = self._line(time.monotonic() + allowed, limit)
                if line is None:
                    if self._overflow:
                        outcome = Outcome("overrun", message=f"an output larger than {limit} bytes")
                    elif self._eof:
                        outcome = Outcome("crashed", message=f"it crashed the isolation child ({_death(proc)})")
                    else:
                        outcome = Outcome("overrun", message=f"no answer within its budget of {allowed:g} s")
                    self.close()
                    results.append((slot, outcome))
                    pending.pop(0)
                    break  # the next rules on this record go to a new child
                try:
                    outcome = _outcome(json.loads(line))
                except (ValueError, TypeError, AttributeError):
                    outcome = Outcome("crashed", message=f"unreadable answer from the isolation child: {line[:100]!r}")
                    self.close()
                    results.append((slot, outcome))
                    pending.pop(0)
                    break
                results.append((slot, outcome))
                pending.pop(0)
        return results

    def _send(self, text: str) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        self._proc.stdin.write(text.encode() + b"\n")
        self._proc.stdin.flush()

    def _line(self, deadline: float, limit: int = ANSWER_BYTES) -> bytes | None:
        """The child's next line, or ``None`` when the deadline passes, the child is gone (``_eof``) or
        it has written more than ``limit`` bytes without ending the line (``_overflow``)."""
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        self._eof = self._overflow = False
        while b"\n" not in self._buffer:
            if len(self._buffer) > limit:
                self._overflow = True
                return None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                return None
            chunk = os.read(fd, min(1 << 16, limit + 1 - len(self._buffer)) or 1)
            if not chunk:
                self._eof = True
                return None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line


def _outcome(answer: Any) -> Outcome:
    if answer is None:
        return Outcome("none")
    if "error" in answer:
        return Outcome("error", message=str(answer["error"]))
    return Outcome("output", value=answer["value"])


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    for stream in (proc.stdin, proc.stdout):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


def _death(proc: subprocess.Popen[bytes]) -> str:
    """How the child ended, in words."""
    try:
        code = proc.wait(timeout=2.0)
    except subprocess.TimeoutExpired:
        return "its output closed"
    if code < 0:
        import signal

        name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
        hint = {"SIGABRT": "libjq aborted: out of memory or stack", "SIGKILL": "killed: out of memory?",
                "SIGSEGV": "segmentation fault: stack overflow?"}.get(name, "")
        return f"{name}{': ' + hint if hint else ''}"
    return f"exit status {code}"


# ----------------------------------------------------------------- the child


def serve() -> None:
    """The child's loop: read the setup line, compile, say ready, then answer records forever."""
    import resource

    import jq

    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    setup = json.loads(stdin.readline())
    limit = int(setup["memory_limit"])
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    programs = [jq.compile(text) for text in setup["programs"]]
    stdout.write(b'"ready"\n')
    stdout.flush()
    while True:
        header = stdin.readline()
        record = stdin.readline()
        if not header or not record:
            return
        text = record.decode()
        limit = answer_limit(len(text) - 1)  # as the parent counts it: characters, without the line end
        for slot in json.loads(header):
            stdout.write(_answer(programs[slot], text, limit) + b"\n")
            stdout.flush()


def _answer(program: Any, text: str, limit: int = ANSWER_BYTES) -> bytes:
    """The program's first output on the record, as ``Rule.first_output`` takes it; an output whose
    answer would exceed ``limit`` bytes is this rule's error instead (the parent would not read it)."""
    try:
        for value in program.input_text(text):
            answer = json.dumps({"value": value}, ensure_ascii=False).encode()
            if len(answer) > limit:
                return json.dumps({"error": f"output of {len(answer)} bytes exceeds the limit of {limit}"}).encode()
            return answer
        return b"null"
    except ValueError as exc:
        return json.dumps({"error": str(exc)}, ensure_ascii=False).encode()
    except MemoryError:
        return b'{"error": "out of memory (the isolation child\'s limit)"}'
    except Exception as exc:  # whatever libjq's binding raises, it is this rule's error on this record
        return json.dumps({"error": f"{type(exc).__name__}: {exc}"}).encode()
