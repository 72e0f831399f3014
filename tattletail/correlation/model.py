"""What a ``[[correlation]]`` says, as frozen data: the vocabulary of Sigma's correlation rules.

- ``event_count``: at least N matches of the base rules in one group and window (with ``weight``, a jq
  path, a match counts as that many events: a DeleteObjects call as the objects it deletes);
- ``value_count``: at least N distinct values of ``field`` among them;
- ``temporal``: every base rule (or at least N of them) matched in one group and window;
- ``temporal_ordered``: the base rules matched in the order they are listed.

Windows are aligned to the epoch: a ``5m`` timespan counts 12:00:00-12:04:59, 12:05:00-12:09:59, ...
by each record's ``eventTime``, and (``windows = "overlapping"``, the default) a second series half a
timespan later: 12:02:30-12:07:29, ... A window's count is a function of the set of records in it,
whatever order they arrive in. The guarantee: matches that meet the condition within HALF the timespan
always lie whole in one window, wherever the edges fall, and fire; matches spread over the timespan or
more never share a window and never fire together. When a window fires, the two windows of the other
series overlapping it are closed too, so one burst gives one alert (but a second burst within those
windows gives none). ``windows = "fixed"`` keeps only the aligned series: half the state writes, and a
burst straddling an edge is split in two.

Conditions are ``gte``/``gt`` only: they can be decided as records arrive. ``lt``/``lte``/``eq`` need
the window to close, which a stream of invocations never sees, so they are refused at load rather than
approximated.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from tattletail.alerts.facts import get
from tattletail.rules import Rule

TYPES = ("event_count", "value_count", "temporal", "temporal_ordered")
WINDOWS = ("overlapping", "fixed")
OPERATORS = ("gte", "gt")
MAX_COUNT = 1000                 # bounds a window's item in the state table (members are <= 256 bytes)
MAX_TIMESPAN = 7 * 24 * 3600
ORDER_MEMBERS = 7200             # temporal_ordered: middle-rule members a window's item may hold (~100 KB)
DEFAULT_LATENESS = "1h"          # CloudTrail delivers most files within 15 minutes
_SIMPLE_PATH = re.compile(r"^(\.[A-Za-z_][A-Za-z0-9_]*)+$")
_DURATION = re.compile(r"^([1-9][0-9]*)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int | None:
    """``30s``, ``5m``, ``1h``, ``2d`` -> seconds; ``None`` when it is not one of those."""
    found = _DURATION.match(text.strip()) if isinstance(text, str) else None
    return int(found.group(1)) * _UNITS[found.group(2)] if found else None


def show_duration(seconds: int) -> str:
    for unit in ("d", "h", "m"):
        if seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"


@dataclass(frozen=True)
class Path:
    """A jq program giving one value of a record (its first output). Plain paths (``.a.b``) are read
    without jq; anything else runs in libjq. No output, or an error, is ``None``."""

    text: str
    program: Any = field(default=None, compare=False, repr=False)

    @property
    def simple(self) -> tuple[str, ...] | None:
        return tuple(self.text.strip()[1:].split(".")) if _SIMPLE_PATH.match(self.text.strip()) else None

    def value(self, record: dict[str, Any]) -> Any:
        parts = self.simple
        if parts is not None:
            return get(record, *parts)
        try:
            for value in self.program.input_value(record):
                return value
        except ValueError:
            return None
        return None


@dataclass(frozen=True)
class GroupKey:
    """One ``group_by`` entry: a path for every rule, or an alias naming a path per rule."""

    name: str
    default: Path | None = None
    per_rule: tuple[tuple[str, Path], ...] = ()

    def value(self, rule: str, record: dict[str, Any]) -> Any:
        path = dict(self.per_rule).get(rule, self.default)
        return path.value(record) if path is not None else None


@dataclass(frozen=True)
class Correlation:
    """One checked ``[[correlation]]``. ``needed`` is the count that meets the condition (``gt = 9``
    and ``gte = 10`` both need 10); ``alert_rule`` is the rule its alerts are delivered as."""

    name: str
    type: str
    rules: tuple[str, ...]
    group_by: tuple[GroupKey, ...]
    timespan: int
    needed: int
    condition: str                       # as written, for people: "gte 10"
    lateness: int
    alert_rule: Rule
    field: Path | None = None            # value_count
    tests: tuple[dict[str, Any], ...] = ()
    origin: str = ""
    sigma_id: str | None = None
    weight: Path | None = None           # event_count: how many events one record stands for
    overlapping: bool = True             # a second series of windows, half a timespan later (``windows``)

    @property
    def destinations(self) -> tuple[str, ...]:
        return self.alert_rule.destinations

    def explain(self) -> str:
        """One line for ``tattletail check --explain``."""
        group = ", ".join(["account"] + [key.name for key in self.group_by])
        events = f"events (each weighing {' '.join(self.weight.text.split())})" if self.weight else "events"
        counted = {"event_count": events, "value_count": f"distinct {self.field.text if self.field else ''}",
                   "temporal": f"of the {len(self.rules)} rules", "temporal_ordered": "rules in order"}[self.type]
        span = show_duration(self.timespan)
        windows = (f"a {span} window (overlapping: always within {show_duration(self.timespan // 2)})"
                   if self.overlapping else f"a {span} fixed window")
        return (f"{self.name}: {self.type} over {', '.join(repr(r) for r in self.rules)}; fires when "
                f"{self.condition} {counted} per {group} in {windows} "
                f"(records up to {show_duration(self.lateness)} late still count){self._resolution()}")

    def _resolution(self) -> str:
        step = order_resolution(self)
        return f"; order compared to within {show_duration(step)}" if step > 1 else ""


def order_resolution(correlation: Correlation) -> int:
    """Seconds to which ``temporal_ordered`` compares event times: 1, unless the rules between the first
    and the last could hold more than ``ORDER_MEMBERS`` distinct seconds in one window (long timespans,
    many rules); then events that close are taken as simultaneous (in either order), so an item stays
    bounded whatever the flood. ``check --explain`` says so when it is not 1."""
    middle = len(correlation.rules) - 2
    if correlation.type != "temporal_ordered" or middle < 1:
        return 1
    return max(1, -(-correlation.timespan * middle // ORDER_MEMBERS))


def alert_rule(name: str, *, description: str = "", destinations: tuple[str, ...] = (), severity: str | None = None,
               runbook: str | None = None, origin: str = "") -> Rule:
    """The rule a correlation's alerts are delivered as: its title and fields read the summary record
    ``correlator.summary`` builds, so every destination renders it as it renders any alert."""
    fields = (("Counted", ".counted"), ("Group", ".group_text"), ("Window", ".window_text"),
              ("First event", ".first_event_time"), ("Last event", ".last_event_time"),
              ("Values", '.values | if . == null or length == 0 then null else join(", ") end'),
              ("Samples", ".samples_text"))
    return Rule.compiled(name, "true", description=description, destinations=destinations, severity=severity,
                         title=".title", fields=fields, runbook=runbook, origin=origin)


MEMBER_BYTES = 256  # a counted member's UTF-8 size at most: the item bound (MAX_COUNT members) rests on it


def member_text(value: Any, limit: int = MEMBER_BYTES) -> str:
    """A value as a set member: strings as they are, anything else (and the empty string, which DynamoDB
    sets refuse) as compact JSON. A text longer than ``limit`` UTF-8 bytes becomes a prefix plus
    ``#`` and a hash of the whole, ``limit`` bytes in all: the item stays bounded (DynamoDB counts bytes,
    not characters) and two long values sharing a prefix stay two distinct values."""
    text = value if isinstance(value, str) and value else json.dumps(value, separators=(",", ":"), sort_keys=True)
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= limit:
        return text
    digest = hashlib.sha256(data).hexdigest()[:32]
    prefix = data[:limit - len(digest) - 1].decode("utf-8", "ignore")  # never half a character
    return f"{prefix}#{digest}"
