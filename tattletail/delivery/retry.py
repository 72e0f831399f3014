"""Retries with exponential backoff and full jitter, inside the time the invocation has left.

A Lambda invocation has a hard deadline (``context.get_remaining_time_in_millis()``). Retrying past
it would lose what is left undone, so every wait is checked against the deadline minus a reserve,
the time needed afterwards to write dead letters and log; when a wait does not fit, the retrying
stops and the caller records the failure.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from tattletail.errors import RetryableDeliveryError

T = TypeVar("T")


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

    def remaining(self) -> float:
        return float("inf") if self._end is None else self._end - self._clock()


_sleep = time.sleep  # module level, so tests can watch the waits


def call(send: Callable[[], T], policy: RetryPolicy, deadline: Deadline,
         sleep: Callable[[float], None] | None = None) -> T:
    """``send()``, retried on ``RetryableDeliveryError`` while attempts and time remain; the last error
    is raised when they run out. A server's ``Retry-After`` is honoured (it replaces the backoff)."""
    attempt = 0
    while True:
        try:
            return send()
        except RetryableDeliveryError as exc:
            attempt += 1
            wait = exc.retry_after if exc.retry_after is not None else policy.backoff(attempt - 1)
            if attempt >= policy.attempts or wait > deadline.remaining() - policy.reserve:
                raise
            (sleep or _sleep)(wait)
