"""Correlations: detections over many records (thresholds, distinct counts, sequences).

``model`` (what a ``[[correlation]]`` says), ``config`` (checking it at load), ``window`` (which window
and group a base-rule match counts in, and when a window's condition is met), ``state`` (the counts:
in memory, or in the DynamoDB state table across invocations), ``correlator`` (base-rule matches in,
correlation alerts out) and ``history`` (``run``/``replay``/``test``: the same in event-time order).
"""
