"""``tattletail redrive``: send dead letters again, exactly as they were rendered.

A letter is deleted once sent, or once its alerts are found delivered in the state table; one that fails
again is kept (and its keys parked again). Errors of the store, the state table or AWS are reported
per letter, never as a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from tattletail import aws, log
from tattletail.config.loader import Config
from tattletail.delivery import retry
from tattletail.delivery.deadletter import DeadLetters
from tattletail.delivery.state import MemoryState, State
from tattletail.errors import DeadLetterError, DeliveryError, StateError


@dataclass
class RedriveResult:
    """What a redrive did: letters resent, found already delivered, and kept (with the reason each)."""

    resent: int = 0
    already_delivered: int = 0
    kept: list[str] = field(default_factory=list)


def redrive(store: DeadLetters, config: Config, *, state: State | None = None,
            policy: retry.RetryPolicy | None = None, sleep: Callable[[float], None] | None = None) -> RedriveResult:
    """Send every dead letter again, as it was rendered, to its destination in ``config``. A letter is
    deleted once sent (or once its alerts are found delivered in ``state``); one that fails again is kept."""
    state = state if state is not None else MemoryState()
    policy = policy or retry.RetryPolicy(reserve=0.0)
    deadline = retry.Deadline()
    result = RedriveResult()
    try:
        letters = list(store.letters())
    except Exception as exc:  # botocore: no such queue or bucket, no credentials, access denied, bad JSON
        raise DeadLetterError(f"dead letters {store}: cannot read: {aws.describe(exc)}") from None
    for letter in letters:
        try:
            problem = _redrive_one(store, letter, config, state, policy, deadline, sleep, result)
            if problem is not None:
                store.keep(letter)
        except StateError as exc:
            problem = f"letter for rule {letter.body.get('rule')!r}: {exc}"
        except Exception as exc:  # the store's delete or keep failed: the letter stays, nothing is lost
            problem = f"letter for rule {letter.body.get('rule')!r}: {aws.describe(exc)}"
        if problem is not None:
            result.kept.append(problem)
    return result


def _redrive_one(store: DeadLetters, letter: Any, config: Config, state: State, policy: retry.RetryPolicy,
                 deadline: retry.Deadline, sleep: Callable[[float], None] | None, result: RedriveResult) -> str | None:
    """Resend one letter; the reason it is kept, or ``None`` when it is done with."""
    body = letter.body
    if "unreadable" in body:
        return f"letter {letter.handle}: unreadable ({body['unreadable']}); kept"
    where = f"letter for rule {body.get('rule')!r} -> destination {body.get('destination')!r}"
    if not isinstance(body.get("rendered"), dict):
        return f"{where}: the letter holds no rendered message; kept"
    destination = config.destinations.get(body.get("destination", ""))
    if destination is None:
        return f"{where}: no such destination in {config.source} (defined: {', '.join(config.destinations)})"
    keys = list(body.get("keys", []))
    try:
        claims = state.claim(keys, parked=True)
    except StateError as exc:
        return f"{where}: {exc}"
    claimed = claims.mine
    if claims.held:  # being sent by an invocation right now: looked at again by the next redrive
        state.release(claimed)
        return f"{where}: {len(claims.held)} of its alerts are claimed by a running invocation"
    if keys and not claimed:
        store.delete(letter)
        result.already_delivered += 1
        return None
    try:
        retry.call(partial(destination.deliver, body["rendered"]), policy, deadline, sleep)
    except DeliveryError as exc:
        state.park(claimed)
        return f"{where}: {exc}"
    state.confirm(claimed)
    store.delete(letter)
    result.resent += 1
    log.emit("redriven", rule=body.get("rule"), destination=destination.id, alerts=len(keys))
    return None
