"""One match as ``--format jsonl`` writes it (``run`` and ``replay``): kept apart so ``run`` imports
none of ``replay``'s machinery (workers, progress, tables)."""

from __future__ import annotations

import json
from typing import Any


def match_row(rule: str, file: str, index: int, record: dict[str, Any], value: Any) -> dict[str, Any]:
    """One match as ``--format jsonl`` prints it."""
    return {"rule": rule, "file": file, "index": index, "eventID": record.get("eventID"), "match": value}


def jsonl(row: dict[str, Any]) -> str:
    """A row as one line of JSON. ``orjson`` writes it five times faster than ``json``, and means the same
    wherever every number is exact (``jq.recordtext.exact``: it would write an infinity as null); elsewhere,
    and for text ``orjson`` refuses (lone surrogates), ``json`` writes it."""
    import orjson

    from tattletail.jq.recordtext import exact, vouched

    value = row["match"]
    if (vouched(value) or exact(value)) and exact(row["eventID"]):
        try:
            return orjson.dumps(row).decode()
        except TypeError:
            pass
    return json.dumps(row, ensure_ascii=False, separators=(",", ":"))
