"""The contract every destination keeps, and secret masking.

A destination is a small class registered by its ``type`` in ``destinations.REGISTRY``. Its ``KEYS``
declare the TOML keys it takes (name -> (python type, required)), so the config loader reports unknown,
missing and mistyped keys for every type the same way, and ``validate`` checks the values at load.
Sending is split in two so that what was rendered can be retried, dead-lettered and redriven exactly:

- ``render(alert)`` / ``render_digest(digest)``: the request's parameters, pure (no I/O);
- ``deliver(rendered)``: one attempt to send them, raising ``RetryableDeliveryError`` when trying
  again may help and ``DeliveryError`` when it cannot (``delivery.dispatch`` retries and keeps);
- ``preview(alert)``: what ``render`` gives, shown for a person (``tattletail render``);
- ``unusable()``: why it cannot send (a placeholder left in a copied config), or ``None``.

URLs are checked here at load (scheme, host, port), so nothing that passes ``check`` raises at send time
outside the delivery error path.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Set as AbstractSet
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

from tattletail.alerts.alert import Alert, Digest, View
from tattletail.redact import mask_url, scrub

__all__ = ["Destination", "KeySpec", "is_placeholder", "mask_url", "scrub", "url_problem"]

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

    def unusable(self) -> str | None:
        """Why this destination cannot send (a placeholder left in the config), or ``None``. The
        config loads all the same; ``check`` and ``run`` may warn, and ``deliver`` fails."""
        return None

    def preview(self, alert: Alert) -> str:
        """What ``render`` gives, shown for a person (``tattletail render``)."""
        return self.show(self.render(alert))

    def show(self, rendered: dict[str, Any]) -> str:
        return json.dumps(rendered, indent=2, ensure_ascii=False)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.id!r})"


# What people write for "put yours here". Marks are whole words (``YOUR`` upper case only), so a real
# token that merely contains the letters (``...aBcYOURdEf...``) or a host like yourteam.example is not one.
_PLACEHOLDER = re.compile(
    r"___|\bYOUR(?:\b|[_ -])|<[^<>]*>|\.\.\.|\{\{|\bTODO\b|\bFIXME\b"
    r"|(?i:\b(?:change|replace)[-_ ]?me\b|\bplaceholder\b)"
    r"|/T0{6,}/B0{6,}/|/(?:X{6,}|x{6,})(?:$|[/?#])")  # Slack's documented dummy ids and XXXX tokens
_UNSAFE = frozenset('"<>^`{|}')
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def is_placeholder(value: str) -> bool:
    """A value left as the example had it (``___YOUR_SLACK_WEBHOOK___``, ``<webhook url>``, ``{{token}}``,
    ``https://hooks.slack.com/services/...``, ``.../TODO``, ``.../T00000000/B00000000/XXXXXXXX``): not a URL
    anyone meant to send to. Such a value loads (a copied example config can still be checked and
    dry-run); the destination is ``unusable`` and sending to it is a delivery error. The one test of
    every destination (``check``'s warning, ``validate``, ``unusable``): anything else that is not a
    usable URL is an error from ``url_problem`` saying what is wrong (``must start with https://``)."""
    if not value.strip():
        return True
    if "://" not in value and re.fullmatch(r"[\w\s<>{}\[\]()$-]*", value):  # no dot, slash or colon
        return True
    return bool(_PLACEHOLDER.search(value))


def url_problem(url: str, schemes: tuple[str, ...] = ("https", "http")) -> str | None:
    """What makes ``url`` unusable for an HTTP request (scheme, host, port, characters), or ``None``.
    The message never quotes the URL: it is a secret. Anything this accepts can be sent to, so a
    destination that passes ``check`` cannot fail at send time before its request is made.

    The URL is read by the parser urllib3 sends with (``urllib3.util.parse_url``) as well as by
    ``urlsplit``, and refused when they disagree on its scheme, host or port: a URL such as
    ``https://hooks.slack.com\\@evil.example/`` must not be checked as one host and sent to another.
    A backslash, or a user name that looks like a host (``https://hooks.slack.com:443@evil.example``),
    is refused outright: a reader would take the wrong host for the real one."""
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        return "contains spaces or control characters"
    if not url.isascii():
        return "contains non-ASCII characters (percent-encode them)"
    if "\\" in url:
        return "contains a backslash (parsers disagree on the host it names)"
    if any(ch in _UNSAFE for ch in url):  # RFC 3986: never in a URL as such; JSON and logs quote some
        return f"contains characters that must be percent-encoded ({' '.join(sorted(_UNSAFE))})"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        reason = "invalid port" if "port" in str(exc).lower() else "cannot be parsed"
        return f"has an {reason}" if reason.startswith("invalid") else reason
    if parts.scheme.lower() not in schemes:
        return f"must start with {' or '.join(s + '://' for s in schemes)}"
    host = parts.hostname
    if not host:
        return "has no host"
    if port == 0 or (parts.netloc.rpartition("@")[2].endswith(":") and port is None):
        return "has an invalid port"
    if ":" in host:  # an IPv6 literal
        try:
            ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            return "has an invalid IPv6 host"
    elif len(host) > 253 or not all(_LABEL.match(label) for label in host.rstrip(".").split(".")):
        return "has an invalid host name"
    user, _, password = unquote(parts.netloc.rpartition("@")[0]).partition(":")
    if any(c in user for c in "./\\@?#") or any(c in password for c in "\\@"):
        return "has a user name that looks like a host or path (the host is what follows the last @)"
    return _ambiguous(url, parts.scheme, host, port)


def _ambiguous(url: str, scheme: str, host: str, port: int | None) -> str | None:
    """Whether urllib3, which sends the request, reads another scheme, host or port than ``urlsplit``.
    urllib3 is imported here, at load, only for a URL destination: the Lambda imports it with botocore
    anyway, before any file is read."""
    from urllib3.exceptions import LocationParseError
    from urllib3.util import parse_url

    try:
        sent = parse_url(url)
    except LocationParseError:
        return "cannot be parsed"
    sent_host = unquote((sent.host or "").strip("[]").lower())
    if (sent.scheme or "").lower() != scheme.lower() or sent_host != unquote(host.lower()) or sent.port != port:
        return "is ambiguous (urllib3 would send to another host or port than it names)"
    return None
