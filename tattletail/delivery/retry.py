"""Retries with exponential backoff and full jitter, inside the time the invocation has left.

A Lambda invocation has a hard deadline (``context.get_remaining_time_in_millis()``). Retrying past
it would lose what is left undone, so everything is measured against the deadline minus a reserve,
the time needed afterwards to write dead letters, confirm claims and log:

- a wait between tries is taken only when it fits;
- each try gets the time that remains as its own budget (``send(budget)``), which destinations use to
  cap their network timeouts: one slow answer cannot carry the invocation past its end;
- no try starts once the budget is spent.

When the retrying stops, the last error is raised and the caller keeps the failure (a dead letter).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from tattletail.errors import RetryableDeliveryError

T = TypeVar("T")

MIN_ATTEMPT = 0.2  # seconds: a try with less time than this left is not started


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6          # tries in all, the first included
    base: float = 0.5          # seconds before the second try; doubles each time
    cap: float = 20.0          # longest single wait
    reserve: float = 10.0      # seconds kept back at the end of the invocation

    def backoff(self, attempt: int, rng: random.Random = random._inst) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
        return rng.uniform(0, min(self.cap, self.base * 2 ** attempt))


class Deadline:
    """Time left in the invocation: from the Lambda context, or unbounded outside Lambda."""

    def __init__(self, context: Any = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._end: float | None = None
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        if callable(remaining):
            self._end = clock() + remaining() / 1000.0

    @classmethod
    def after(cls, seconds: float, clock: Callable[[], float] = time.monotonic) -> Deadline:
        """A deadline ``seconds`` from now (the command line's ``--timeout``, tests)."""
        deadline = cls(clock=clock)
        deadline._end = clock() + seconds
        return deadline

    @property
    def bounded(self) -> bool:
        return self._end is not None

    def remaining(self) -> float:
        return math.inf if self._end is None else self._end - self._clock()

    def budget(self, reserve: float) -> float | None:
        """Seconds one network call may take, keeping ``reserve`` back; ``None`` when unbounded."""
        return None if self._end is None else self.remaining() - reserve


_sleep = time.sleep  # module level, so tests can watch the waits


def call(send: Callable[[float | None], T], policy: RetryPolicy, deadline: Deadline,
         sleep: Callable[[float], None] | None = None) -> T:
    """``send(budget)``, retried on ``RetryableDeliveryError`` while attempts and time remain; the last
    error is raised when they run out. ``budget`` is the time this try may take (the time left less
    the reserve; ``None`` outside Lambda). A server's ``Retry-After`` is honoured (it replaces the
    backoff)."""
    attempt = 0
    while True:
        budget = deadline.budget(policy.reserve)
        if budget is not None and budget < MIN_ATTEMPT:
            raise RetryableDeliveryError(f"not attempted: the invocation ran out of time (try {attempt + 1}, "
                                         f"{max(budget + policy.reserve, 0):.1f} s left)")
        try:
            return send(budget)
        except RetryableDeliveryError as exc:
            attempt += 1
            wait = exc.retry_after if exc.retry_after is not None else policy.backoff(attempt - 1)
            if attempt >= policy.attempts or wait + MIN_ATTEMPT > deadline.remaining() - policy.reserve:
                raise
            (sleep or _sleep)(wait)
