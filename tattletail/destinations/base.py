"""What every destination shares: the key schema it accepts, and secret masking.

A destination is a small class with ``type``, ``id`` and ``send(alert)``. Its ``KEYS`` declare the
TOML keys it takes (name -> (python type, required)), so the config loader can report unknown,
missing and mistyped keys for every destination type the same way.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar
from urllib.parse import urlsplit

from tattletail.alert import Alert, View

KeySpec = dict[str, tuple[type, bool]]
"""TOML key -> (Python type of its value, whether it is required)."""


class Destination:
    """Base of all destinations. Subclasses set ``type`` and ``KEYS`` and implement ``render`` (what
    would be sent, for ``tattletail render`` and for ``send``) and ``send``."""

    type: ClassVar[str] = ""
    KEYS: ClassVar[KeySpec] = {}

    def __init__(self, id: str, *, view: View | None = None) -> None:
        self.id = id
        self.view = view or View()

    @classmethod
    def validate(cls, values: dict[str, Any]) -> list[str]:
        """Problems with the values of an otherwise well-formed table (types already checked)."""
        return []

    def render(self, alert: Alert) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def preview(self, alert: Alert) -> str:
        """What ``render`` gives, shown for a person (``tattletail render``)."""
        return json.dumps(self.render(alert), indent=2, ensure_ascii=False)

    def send(self, alert: Alert) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

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
