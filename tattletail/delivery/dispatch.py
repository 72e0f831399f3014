"""Delivery a security team can trust: nothing lost, nothing sent twice, no floods.

For each log object, matches are gathered per (rule, destination), then sent:

- **once**: every (record, rule, destination) has a key (``state.delivery_key``); keys already
  delivered or dead-lettered, by this invocation or another (with a state table), are skipped. A key
  is claimed right before its send and confirmed right after. A key claimed by another invocation
  that is still live is waited for (its confirmation polled) while this invocation has time, and
  taken over if that claim lapses; one still held when time runs out is a failure (retryable), never
  a duplicate: success is reported only for what was seen delivered or dead-lettered.
- **without floods**: when one object yields more than ``digest_threshold`` matches for a rule and a
  destination, one digest (count, first matches, who and which events) is sent instead.
- **with retries**: ``retry.call`` retries what may pass (5xx, 429 with Retry-After, timeouts,
  throttling) while the invocation has time; each try's network timeouts are capped by that time.
- **or kept**: what still fails, or is never tried because time ran out, becomes a dead letter with
  everything needed to send it again (``tattletail redrive``). Only a failure that could not be
  dead-lettered either (or with no dead letter store configured) is left in ``report.failures``,
  which makes the invocation fail so Lambda retries it; delivered keys are then skipped.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tattletail import log
from tattletail.alerts.alert import Alert, Digest
from tattletail.alerts.facts import derive
from tattletail.config.loader import Config
from tattletail.delivery import retry
from tattletail.delivery import state as state_module
from tattletail.delivery.deadletter import DeadLetters
from tattletail.delivery.report import Report
from tattletail.delivery.state import MemoryState, State, delivery_key, record_key
from tattletail.destinations import Destination
from tattletail.errors import DeadLetterError, DeliveryError, StateError
from tattletail.rules import Match, Rule

DIGEST_FIRST = 5        # matches shown in a digest
DIGEST_TOP = 10         # users and events listed in a digest
KEEP_LIMIT = 5000       # matches kept per rule and destination in one object (as compact JSON text)
OUT_OF_TIME = "not attempted: the invocation ran out of time"


@dataclass
class _Bucket:
    """The matches of one rule for one destination in one log object."""

    rule: Rule
    destination: Destination
    threshold: int
    keys: list[str] = field(default_factory=list)
    facts: dict[str, tuple[str, str]] = field(default_factory=dict)   # key -> (who, event)
    kept: dict[str, str] = field(default_factory=dict)                # key -> [record, value] as JSON text

    def match(self, key: str) -> Match:
        record, value = json.loads(self.kept[key])
        return Match.from_output(self.rule, record, value) or Match(self.rule, record, value, value)


def _utc(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if epoch < 1e11 else "unknown"


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class Dispatcher:
    """Sends matches for a whole invocation (or command-line run)."""

    def __init__(self, config: Config, *, state: State | None = None, dead_letters: DeadLetters | None = None,
                 policy: retry.RetryPolicy | None = None, deadline: retry.Deadline | None = None,
                 sleep: Callable[[float], None] | None = None) -> None:
        self.config = config
        self.state: State = state if state is not None else MemoryState()
        self.dead_letters = dead_letters
        self.policy = policy or retry.RetryPolicy()
        self.deadline = deadline or retry.Deadline()
        self._started_with = self.deadline.remaining()
        self.sleep = sleep

    def for_object(self, report: Report) -> ObjectDeliveries:
        """The deliveries of one log object, counted into its report."""
        return ObjectDeliveries(self, report)

    def stop_reading(self) -> bool:
        """Reading must stop when the time left is under twice the reserve (the matches found still need
        time to be sent, and then the reserve to record what was not), or under half the time the
        invocation had when that is shorter (so that a short invocation still reads)."""
        return self.deadline.remaining() < min(2 * self.policy.reserve, self._started_with / 2)


class ObjectDeliveries:
    """The deliveries of one log object: ``add`` each match, then ``flush`` once."""

    def __init__(self, dispatcher: Dispatcher, report: Report) -> None:
        self.d = dispatcher
        self.source = report.name
        self.report = report
        self.buckets: dict[tuple[str, str], _Bucket] = {}
        self._alerts: dict[tuple[str, str], Alert] = {}  # (rule, kept text): one alert for all destinations

    def add(self, match: Match, index: int = 0) -> None:
        destinations = self.d.config.destinations_of(match.rule)
        if not destinations:
            return
        record = record_key(match.record)  # identity, facts and text once, whatever the destinations
        facts = derive(match.record)
        who_event = (facts.who.display() or "-", facts.event_name or "-")
        text: str | None = None
        for destination in destinations:
            bucket = self.buckets.get((match.rule.name, destination.id))
            if bucket is None:
                threshold = match.rule.digest_threshold
                bucket = _Bucket(match.rule, destination,
                                 destination.digest_threshold if threshold is None else threshold)
                self.buckets[(match.rule.name, destination.id)] = bucket
            key = delivery_key(record, match.rule.name, destination.id)
            if key in bucket.facts:
                self.report.duplicates += 1  # the same record twice in one file
                continue
            bucket.keys.append(key)
            bucket.facts[key] = who_event
            if len(bucket.kept) < KEEP_LIMIT:  # text, not objects: a flood must not fill the memory
                text = text or _compact([match.record, match.value])
                bucket.kept[key] = text

    def flush(self) -> None:
        """Send every bucket; then wait for the keys other invocations hold (see ``_await``)."""
        held: list[tuple[_Bucket, dict[str, float]]] = []
        for bucket in self.buckets.values():
            others = self._flush(bucket, bucket.keys)
            if others:
                held.append((bucket, others))
        if held:
            self._await(held)
        self.buckets.clear()
        self._alerts.clear()

    def _flush(self, bucket: _Bucket, keys: list[str]) -> dict[str, float]:
        """Claim ``keys`` and send (or, out of time, dead-letter) those claimed; return the keys held by
        other invocations (key -> end of their lease)."""
        try:
            claims = self.d.state.claim(keys)
        except StateError as exc:  # without a claim nothing may be sent: fail, so Lambda retries it all
            where = f'rule "{bucket.rule.name}" -> destination "{bucket.destination.id}" ({len(keys)} alerts)'
            self.report.failures.append(f"{where}: not sent: {exc}")
            log.emit("delivery_state_failed", logging.ERROR, rule=bucket.rule.name,
                     destination=bucket.destination.id, object=self.source, error=str(exc))
            return {}
        self.report.duplicates += len(claims.done)
        claimed = claims.mine
        if not claimed:
            return claims.held
        if self.d.deadline.remaining() < self.d.policy.reserve:
            self._dead_letter(bucket, claimed, None, OUT_OF_TIME)
            return claims.held
        stored = [k for k in claimed if k in bucket.kept]
        if (bucket.threshold and len(claimed) > bucket.threshold) or len(stored) < len(claimed):
            self._send_digest(bucket, claimed)
            return claims.held
        for key in claimed:
            if self.d.deadline.remaining() < self.d.policy.reserve:
                self._dead_letter(bucket, [key], None, OUT_OF_TIME)
                continue
            alert = self._alert(bucket, key)
            self._send(bucket, [key], bucket.destination.render(alert), "alert", [alert.record], alert.match.value)
        return claims.held

    def _await(self, held: list[tuple[_Bucket, dict[str, float]]]) -> None:
        """Keys claimed by other invocations: look again and again (``state.POLL_FIRST`` doubling up to
        ``state.POLL_MAX``) while the time left, less the reserve, allows. A key seen delivered or
        dead-lettered is done (a duplicate); one whose claim lapsed or was given up is claimed and sent
        here; one still held at the end is a failure, so the item is retried."""
        started = time.monotonic()
        found = {"confirmed_elsewhere": 0, "taken_over": 0}
        delay = state_module.POLL_FIRST
        while held and self.d.deadline.remaining() - self.d.policy.reserve > delay:
            (self.d.sleep or retry._sleep)(delay)
            delay = min(delay * 2, state_module.POLL_MAX)
            still: list[tuple[_Bucket, dict[str, float]]] = []
            for bucket, keys in held:
                try:
                    seen = self.d.state.look(keys)
                except StateError as exc:
                    log.emit("delivery_state_failed", logging.WARNING, object=self.source, error=str(exc))
                    still.append((bucket, keys))
                    continue
                self.report.duplicates += len(seen.done)
                found["confirmed_elsewhere"] += len(seen.done)
                others = dict(seen.held)
                if seen.free:
                    before = self.report.duplicates
                    found["taken_over"] += len(seen.free)
                    others.update(self._flush(bucket, seen.free))
                    found["confirmed_elsewhere"] += self.report.duplicates - before
                if others:
                    still.append((bucket, others))
            held = still
        for bucket, keys in held:
            where = f'rule "{bucket.rule.name}" -> destination "{bucket.destination.id}" ({len(keys)} alerts)'
            self.report.failures.append(f"{where}: claimed by another invocation and not confirmed within the "
                                        f"time left (its claims end by {_utc(max(keys.values()))}); retry")
        log.emit("claims_awaited", logging.WARNING if held else logging.INFO, object=self.source,
                 waited_s=round(time.monotonic() - started, 2), still_held=sum(len(k) for _, k in held), **found)

    def _send_digest(self, bucket: _Bucket, claimed: list[str]) -> None:
        first = [self._alert(bucket, k) for k in claimed if k in bucket.kept][:DIGEST_FIRST]
        who = Counter(bucket.facts[k][0] for k in claimed)
        event = Counter(bucket.facts[k][1] for k in claimed)
        digest = Digest(bucket.rule, self.source, len(claimed), tuple(first),
                        tuple(who.most_common(DIGEST_TOP)), tuple(event.most_common(DIGEST_TOP)))
        self.report.digests += 1
        self._send(bucket, claimed, bucket.destination.render_digest(digest), "digest",
                   [a.record for a in first], None)

    def _alert(self, bucket: _Bucket, key: str) -> Alert:
        """The alert of a kept match; the title and fields are evaluated once, for every destination."""
        cache_key = (bucket.rule.name, bucket.kept[key])
        alert = self._alerts.get(cache_key)
        if alert is None:
            alert = self._alerts[cache_key] = Alert.of(bucket.match(key))
        return alert

    def _send(self, bucket: _Bucket, keys: list[str], rendered: dict[str, Any], kind: str,
              records: list[dict[str, Any]], value: Any) -> None:
        destination = bucket.destination
        try:
            retry.call(lambda budget: destination.deliver(rendered, budget), self.d.policy, self.d.deadline,
                       self.d.sleep)
        except DeliveryError as exc:
            log.emit("delivery_failed", logging.ERROR, rule=bucket.rule.name, destination=destination.id,
                     object=self.source, alerts=len(keys), error=str(exc))
            self._dead_letter(bucket, keys, (kind, rendered, records, value), str(exc))
            return
        try:
            self.d.state.confirm(keys)
        except StateError as exc:  # delivered; a retry after the claim lapses could send it again
            log.emit("delivery_unrecorded", logging.ERROR, rule=bucket.rule.name, destination=destination.id,
                     error=str(exc))
        self.report.deliveries += 1
        self.report.alerts_delivered += len(keys)

    def _release(self, keys: list[str]) -> None:
        try:
            self.d.state.release(keys)
        except StateError as exc:
            log.emit("state_release_failed", logging.WARNING, error=str(exc))

    def _dead_letter(self, bucket: _Bucket, keys: list[str],
                     sent: tuple[str, dict[str, Any], list[dict[str, Any]], Any] | None, error: str) -> None:
        """Keep what failed. ``sent`` is what was tried; when nothing was (time out, state error), the
        bucket's matches for ``keys`` are rendered now so the letter can be sent as it is."""
        letters = []
        if sent is not None:
            letters.append(sent)
        else:
            for key in keys:
                if key not in bucket.kept:
                    continue
                alert = self._alert(bucket, key)
                letters.append(("alert", bucket.destination.render(alert), [alert.record], alert.match.value))
            if len(letters) < len(keys):  # a flood whose matches were not all kept: one digest letter
                self._dead_letter_digest(bucket, keys, error)
                return
        for n, (kind, rendered, records, value) in enumerate(letters):
            own = keys if kind == "digest" or sent is not None else [keys[n]]
            self._store(bucket, own, kind, rendered, records, value, error)

    def _dead_letter_digest(self, bucket: _Bucket, keys: list[str], error: str) -> None:
        first = [self._alert(bucket, k) for k in keys if k in bucket.kept][:DIGEST_FIRST]
        digest = Digest(bucket.rule, self.source, len(keys), tuple(first),
                        tuple(Counter(bucket.facts[k][0] for k in keys).most_common(DIGEST_TOP)),
                        tuple(Counter(bucket.facts[k][1] for k in keys).most_common(DIGEST_TOP)))
        self._store(bucket, keys, "digest", bucket.destination.render_digest(digest), [a.record for a in first],
                    None, error)

    def _store(self, bucket: _Bucket, keys: list[str], kind: str, rendered: dict[str, Any],
               records: list[dict[str, Any]], value: Any, error: str) -> None:
        letter = {
            "version": 1, "kind": kind, "rule": bucket.rule.name, "description": bucket.rule.description,
            "destination": bucket.destination.id, "destination_type": bucket.destination.type,
            "source": self.source, "keys": keys, "records": records, "match": value, "rendered": rendered,
            "error": error, "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        where = f'rule "{bucket.rule.name}" -> destination "{bucket.destination.id}" ({len(keys)} alerts)'
        if self.d.dead_letters is None:
            self._release(keys)  # the invocation fails and its retry sends them
            self.report.failures.append(f"{where}: {error}")
            return
        try:
            self.d.dead_letters.put(letter)
        except DeadLetterError as exc:
            self._release(keys)
            self.report.failures.append(f"{where}: {error}; and not dead-lettered: {exc}")
            return
        try:
            self.d.state.park(keys)
        except StateError as exc:  # kept as a letter; the event run again may send them too (redrive skips those)
            log.emit("state_park_failed", logging.WARNING, error=str(exc))
        self.report.dead_lettered += len(keys)
        log.emit("dead_lettered", logging.WARNING, rule=bucket.rule.name, destination=bucket.destination.id,
                 object=self.source, alerts=len(keys), store=str(self.d.dead_letters), error=error)
