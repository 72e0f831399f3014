"""Structured logs: one JSON object per line, with a stable snake_case ``event`` name.

Nothing secret is passed here: destinations appear by id and masked URL only. Every line is also
passed through ``redact.redact``, so a secret that reaches a message by a path nobody foresaw (a
library's error quoting a URL) is masked all the same.
"""

from __future__ import annotations

import logging
from typing import Any

from tattletail.alerts.escape import json_text
from tattletail.redact import redact

logger = logging.getLogger("tattletail")


def emit(event: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log ``{"event": event, "level": ..., **fields}`` as one JSON line."""
    if logger.isEnabledFor(level):
        line = {"event": event, "level": logging.getLevelName(level).lower(), **fields}
        logger.log(level, redact(json_text(line)))  # invisible characters escaped, valid UTF-8


def setup(level: int | str = logging.INFO) -> None:
    """Send tattletail's log lines, bare, to stderr (CLI) or the Lambda log, once."""
    logger.setLevel(level)
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
