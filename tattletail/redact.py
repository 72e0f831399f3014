"""Secrets out of everything printed: masked URLs, scrubbed messages, and a last line of defence.

A Slack webhook URL is a bearer secret: anyone holding it can post to the channel. Its path, query,
fragment and userinfo may all carry the token, so only its scheme, host and port are ever shown
(``mask_url``). Library errors quote URLs in their own ways (``Max retries exceeded with url:
/services/...?token=...``); ``scrub`` replaces every form of a secret found in a text.

Each secret a process holds (webhook URLs, values read from SSM or Secrets Manager) is also
``register``-ed here, and ``redact`` scrubs all of them: the log lines, the ``InvocationFailed``
message and the dead letters pass through it, so a secret that reaches one by a path nobody foresaw
is still masked. This module imports nothing of tattletail's, so anything may use it.
"""

from __future__ import annotations

import re
import threading
from urllib.parse import quote, unquote, urlsplit

MASK = "***"
MIN_SECRET = 8  # shorter values are not registered: masking them would garble unrelated text
_SAFE = "!#$%&'()*+,/:;=?@[]~"
_WORDISH = re.compile(r"^[a-z-]*$")  # a path segment like "services" or "hooks": not the token

_registered: set[str] = set()
_pieces: tuple[tuple[str, str], ...] = ()  # (text to find, replacement), longest first; replaced whole
_lock = threading.Lock()


def mask_url(url: str) -> str:
    """Scheme, host and port only: ``https://hooks.slack.com/services/T/B/X?t=1`` ->
    ``https://hooks.slack.com/***``. Never raises; what cannot be read as a URL is all masked."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return MASK
    if not parts.scheme or not host or not re.fullmatch(r"[A-Za-z0-9.:\[\]_-]+", host):
        return MASK
    shown = f"{parts.scheme}://{f'[{host}]' if ':' in host else host}" + (f":{port}" if port else "")
    rest = url.split("://", 1)[1] if "://" in url else ""
    hidden = rest.partition("/")[2] or "?" in rest or "#" in rest or "@" in rest
    return f"{shown}/{MASK}" if hidden else shown


def _variants(secret: str) -> list[tuple[str, str]]:
    """Every form in which ``secret`` (or the secret part of it) may be quoted, with its mask."""
    found = {secret: mask_url(secret)}
    try:
        parts = urlsplit(secret)
    except ValueError:
        parts = None
    if parts is not None and parts.scheme and parts.netloc:
        tail = parts.path + (f"?{parts.query}" if parts.query else "")
        candidates = [secret.split("#", 1)[0], tail, parts.path, parts.query, parts.fragment,
                      parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""]
        for piece in parts.path.split("/") + re.split(r"[&=]", parts.query):
            if len(piece) >= 6 and not _WORDISH.match(piece):
                candidates.append(piece)
        for candidate in candidates:
            if len(candidate) > 1 and candidate not in found:
                found[candidate] = MASK
        for candidate in list(found):
            for form in (quote(candidate, safe=_SAFE), unquote(candidate)):
                found.setdefault(form, found[candidate])
    return [(text, mask) for text, mask in found.items() if text]


def scrub(text: str, secret: str) -> str:
    """``text`` with every form of ``secret`` masked (the URL, its path and query, its token)."""
    if not secret or not text:
        return text
    for piece, mask in sorted(_variants(secret), key=lambda p: -len(p[0])):
        text = text.replace(piece, mask)
    return text


def register(secret: str) -> None:
    """Mask ``secret`` in everything ``redact`` sees from now on (values under 8 characters are not)."""
    global _pieces
    if not isinstance(secret, str) or len(secret) < MIN_SECRET or secret in _registered:
        return
    with _lock:
        _registered.add(secret)
        pieces = dict(_pieces)
        for piece, mask in _variants(secret):
            if len(piece) >= 4:
                pieces.setdefault(piece, mask)
        _pieces = tuple(sorted(pieces.items(), key=lambda p: -len(p[0])))  # readers keep their snapshot


def redact(text: str) -> str:
    """``text`` with every registered secret masked."""
    for piece, mask in _pieces:
        if piece in text:
            text = text.replace(piece, mask)
    return text
