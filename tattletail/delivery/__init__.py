"""Getting alerts out exactly once: ``dispatch`` (per-object batches, digests, redrive), ``state``
(exactly-once keys), ``deadletter`` (what failed, kept whole) and ``retry`` (backoff within the deadline)."""
