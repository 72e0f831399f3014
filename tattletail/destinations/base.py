"""The contract every destination keeps, and secret masking.

A destination is a small class registered by its ``type`` in ``destinations.REGISTRY``. Its ``KEYS``
declare the TOML keys it takes (name -> (python type, required)), so the config loader reports unknown,
missing and mistyped keys for every type the same way, and ``validate`` checks the values at load.
Sending is split in two so that what was rendered can be retried, dead-lettered and redriven exactly:

- ``render(alert)`` / ``render_digest(digest)``: the request's parameters, pure (no I/O);
- ``deliver(rendered)``: one attempt to send them, raising ``RetryableDeliveryError`` when trying
  again may help and ``DeliveryError`` when it cannot (``delivery.dispatch`` retries and keeps);
- ``preview(alert)``: what ``render`` gives, shown for a person (``tattletail render``).
"""

from __future__ import annotations

import json
from collections.abc import Set as AbstractSet
from typing import Any, ClassVar
from urllib.parse import urlsplit

from tattletail.alerts.alert import Alert, Digest, View

KeySpec = dict[str, tuple[type, bool]]
"""TOML key -> (Python type of its value, whether it is required)."""


class Destination:
    """Base of all destinations. Subclasses set ``type`` and ``KEYS`` and implement ``render``,
    ``render_digest`` and ``deliver`` (the contract in the module docstring)."""

    type: ClassVar[str] = ""
    KEYS: ClassVar[KeySpec] = {}
    DIGEST_THRESHOLD = 20  # matches of one rule in one log file above which a digest is sent instead

    def __init__(self, id: str, *, view: View | None = None, digest_threshold: int = DIGEST_THRESHOLD) -> None:
        self.id = id
        self.view = view or View()
        self.digest_threshold = digest_threshold

    @classmethod
    def validate(cls, values: dict[str, Any], unresolved: AbstractSet[str] = frozenset()) -> list[str]:
        """Problems with the values of an otherwise well-formed table (types already checked). Keys in
        ``unresolved`` still hold a secret reference: their values are checked once it is read."""
        return []

    @classmethod
    def placeholder(cls, values: dict[str, Any], unresolved: AbstractSet[str] = frozenset()) -> dict[str, str]:
        """Keys holding a placeholder (an example copied and not filled in, or nothing usable), each with
        a message saying what is expected. A distinct outcome from ``validate``: the config still loads
        so dry runs work (a warning), and it is an error only where sending is asked. ``validate`` is
        not asked about these keys."""
        return {}

    def render(self, alert: Alert) -> dict[str, Any]:  # pragma: no cover - abstract
        """What would be sent for one alert (the request's parameters)."""
        raise NotImplementedError

    def render_digest(self, digest: Digest) -> dict[str, Any]:  # pragma: no cover - abstract
        """What would be sent for many matches of one rule in one log file."""
        raise NotImplementedError

    def deliver(self, rendered: dict[str, Any], timeout: float | None = None) -> None:  # pragma: no cover
        """Send a rendered message once, in at most about ``timeout`` seconds when given (the time the
        invocation has left for this try: network timeouts are capped by it); raise
        ``RetryableDeliveryError`` when trying again may help, ``DeliveryError`` when it cannot."""
        raise NotImplementedError

    def preview(self, alert: Alert) -> str:
        """What ``render`` gives, shown for a person (``tattletail render``)."""
        return self.show(self.render(alert))

    def show(self, rendered: dict[str, Any]) -> str:
        return json.dumps(rendered, indent=2, ensure_ascii=False)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.id!r})"


def mask_url(url: str) -> str:
    """Keep what identifies the endpoint (scheme, host, first path segment), hide the secret rest.

    ``https://hooks.slack.com/services/T000/B000/XXXX`` -> ``https://hooks.slack.com/services/***``
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "***"
    first = parts.path.lstrip("/").split("/", 1)[0]
    shown = f"{parts.scheme}://{parts.hostname or ''}"
    if parts.port:
        shown += f":{parts.port}"
    return f"{shown}/{first}/***" if first else f"{shown}/***"


def scrub(text: str, secret: str) -> str:
    """``text`` with every occurrence of ``secret`` (and its path) replaced by its masked form."""
    if not secret:
        return text
    masked = mask_url(secret)
    text = text.replace(secret, masked)
    path = urlsplit(secret).path
    if len(path) > 1:
        text = text.replace(path, urlsplit(masked).path)
    return text
