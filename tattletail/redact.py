"""Secrets out of everything printed: masked URLs, scrubbed messages, and a last line of defence.

A Slack webhook URL is a bearer secret: anyone holding it can post to the channel. Its path, query,
fragment and userinfo may all carry the token, so only its scheme, host and port are ever shown
(``mask_url``). Library errors quote URLs in their own ways (``Max retries exceeded with url:
/services/...?token=...``), and not always as written: urllib3 re-encodes what it sends (``%2f`` ->
``%2F``, ``[`` -> ``%5B``, a space -> ``%20``) and an endpoint may echo the path decoded. So a secret is
found in every encoding: each of its characters as itself or percent-encoded (either case of hex
digits, ``%`` itself possibly encoded again), a space also as ``+`` (``_pattern``).

Only what is secret-like is masked on its own: the whole URL always, and its parts (path, query,
fragment, userinfo, a path segment, a query value) only when they have at least 8 characters and are
more than ordinary words and small numbers (or are a path of two segments or more) -- a query
``?debug=true`` or a user name ``user`` must not turn every ``true`` and ``user`` of a log into ``***``.
A secret of ordinary words alone (``/hook/abcdefghij``) is masked in the URL and its path, not on its own.

Each secret a process holds (webhook URLs, values read from SSM or Secrets Manager) is also
``register``-ed here, and ``redact`` scrubs all of them: the log lines, the ``InvocationFailed``
message and the dead letters pass through it, so a secret that reaches one by a path nobody foresaw
is still masked. This module imports nothing of tattletail's, so anything may use it.
"""

from __future__ import annotations

import functools
import re
import threading
from urllib.parse import unquote, urlsplit

MASK = "***"
MIN_SECRET = 8  # shorter pieces are not masked on their own: masking them would garble unrelated text
# A word of an ordinary text: lower-case letters (not too long to be a word) or a small number.
_ORDINARY = re.compile(r"[a-z]{0,12}|[0-9]{0,4}")

_registered: set[str] = set()
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


def secret_like(piece: str) -> bool:
    """Whether ``piece`` (a part of a secret URL) may be masked wherever it appears: 8 characters or
    more, and not only ordinary words and small numbers (``debug=true``, ``channel=alerts``)."""
    text = unquote(piece)
    if len(text) < MIN_SECRET:
        return False
    return any(not _ORDINARY.fullmatch(word) for word in re.split(r"[^A-Za-z0-9]+", text))


def _variants(secret: str) -> dict[str, str]:
    """The pieces of ``secret`` to find (as written: ``_pattern`` finds every encoding), with the
    mask each is replaced by. A URL is replaced by its masked form, its secret-like parts by ``***``."""
    found = {secret: mask_url(secret)}
    try:
        parts = urlsplit(secret)
    except ValueError:
        return found
    if not (parts.scheme and parts.netloc):
        return found
    found.setdefault(secret.split("#", 1)[0], mask_url(secret))
    userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
    candidates = [parts.path + (f"?{parts.query}" if parts.query else ""), parts.path, parts.query,
                  parts.fragment, userinfo, userinfo.partition(":")[2]]
    candidates += parts.path.split("/") + re.split(r"[&=]", parts.query)
    for candidate in candidates:
        # a path of two segments or more (``/webhook/abcdefghij``) is the URL's own, whatever its words
        if secret_like(candidate) or (candidate.startswith("/") and candidate.count("/") >= 2
                                      and len(candidate) >= MIN_SECRET):
            found.setdefault(candidate, MASK)
    return found


_PERCENT = "(?:%|%25)"  # a percent sign, itself possibly encoded once more
_HEX_AFTER_25 = re.compile(r"%25(?=[0-9A-Fa-f]{2})")


def _encoded(ch: str) -> str:
    """``ch`` percent-encoded (its UTF-8 bytes); the pattern ignores case, so ``%2f`` is ``%2F``."""
    try:
        data = ch.encode("utf-8", "surrogateescape")  # a byte that was no UTF-8 (``%ff``) comes back
    except UnicodeEncodeError:
        data = ch.encode("utf-8", "surrogatepass")
    return "".join(f"{_PERCENT}{b:02X}" for b in data)


@functools.lru_cache(maxsize=4096)
def _char(ch: str) -> str:
    forms = [re.escape(ch), _encoded(ch)] + ([r"\+"] if ch == " " else [])
    return f"(?:{'|'.join(forms)})"


def _pattern(piece: str) -> str:
    """A regular expression finding the decoded ``piece`` in any percent-encoding: each character as
    itself or ``%XX`` (hex digits and letters in either case), a ``%`` also as ``%25``, a space also
    as ``+``."""
    return "".join(_char(ch) for ch in piece)


def _decoded(text: str) -> str:
    return unquote(text, errors="surrogateescape")


def _forms(text: str) -> str:
    """``text`` lowered, then decoded as each encoding ``_pattern`` accepts would decode it, joined by
    NULs: a piece in any of its encodings is a plain substring of this."""
    lowered = text.lower()
    forms = [lowered]
    if "%" in lowered:
        forms.append(_decoded(_HEX_AFTER_25.sub("%", lowered)))
    if "+" in lowered:
        forms += [form.replace("+", " ") for form in forms]
    return "\0".join(forms)


class _Finder:
    """The pieces of one secret in one pattern, longest first (so the whole URL wins over its own
    path), a group and a mask each. The pattern is slow on long texts (each position tries every
    encoding of every piece), so a text is first searched for the pieces as plain substrings of its
    ``_forms``: only a text holding one goes through the pattern. A piece holding another needs no
    search of its own. Pieces for which that shortcut could miss a form (a decoded ``%``, or both a
    space and a ``+``) make every text go through the pattern."""

    def __init__(self, pieces: dict[str, str]) -> None:
        self.ordered = sorted(pieces.items(), key=lambda item: -len(item[0]))
        self.masks = tuple(mask for _, mask in self.ordered)
        lowered = {piece.lower() for piece, _ in self.ordered}
        self.needles = tuple(n for n in lowered if not any(o != n and o in n for o in lowered))
        self.always = any("%" in piece or (" " in piece and "+" in piece) for piece, _ in self.ordered)
        self._pattern: re.Pattern[str] | None = None  # compiled when first needed (it takes milliseconds)

    @property
    def pattern(self) -> re.Pattern[str]:
        if self._pattern is None:
            self._pattern = re.compile("|".join(f"({_pattern(piece)})" for piece, _ in self.ordered), re.IGNORECASE)
        return self._pattern

    def sub(self, text: str, forms: str | None = None) -> str:
        if not text:
            return text
        if not self.always:
            forms = _forms(text) if forms is None else forms
            for needle in self.needles:
                if needle in forms:
                    break
            else:
                return text
        return self.pattern.sub(lambda m: self.masks[(m.lastindex or 1) - 1], text)


@functools.lru_cache(maxsize=256)
def _finder_for(secret: str) -> _Finder:
    """One finder per secret, made once."""
    return _Finder({_decoded(p): mask for p, mask in _variants(secret).items() if p})


_finders: tuple[_Finder, ...] = ()  # one per registered secret


def scrub(text: str, secret: str) -> str:
    """``text`` with every form of ``secret`` masked (the URL, its secret-like parts, in any encoding)."""
    if not secret or not text:
        return text
    return _finder_for(secret).sub(text)


def register(secret: str) -> None:
    """Mask ``secret`` in everything ``redact`` sees from now on (values under 8 characters are not)."""
    global _finders
    if not isinstance(secret, str) or len(secret) < MIN_SECRET or secret in _registered:
        return
    finder = _finder_for(secret)
    with _lock:
        if secret not in _registered:
            _registered.add(secret)
            _finders = (*_finders, finder)  # readers keep the snapshot they took


def redact(text: str) -> str:
    """``text`` with every registered secret masked, in any encoding."""
    finders = _finders
    if not finders or not text:
        return text
    forms = _forms(text)
    for finder in finders:
        masked = finder.sub(text, forms)
        if masked is not text:
            text, forms = masked, _forms(masked)
    return text
