"""One escaping policy per output format, for every value an event or a rule's output can control.

A CloudTrail record is written by whoever made the call: user agents, request parameters, error
messages and resource names are free text. Shown to a person, that text must never become live
formatting, links, mentions, fake lines or hidden characters. Every destination renders through the
functions here, so the policy can be read (and audited) in one place:

- **every format**: characters a reader cannot see or that reorder what they see -- C0/C1 controls
  (NUL, BEL, ESC, DEL...), bidirectional overrides (U+202E...), zero-width and other format characters
  (U+200B, U+FEFF...), line/paragraph separators, lone surrogates, noncharacters and diacritics
  stacked three or more on a letter -- are shown as ``\\u202e``
  (``visible``). Nothing is silently dropped, so an analyst sees that a value was crafted.
- **one-line contexts** (facts, titles, subjects, headers): line breaks and tabs become one space
  first (``one_line``), so a value cannot forge a line that looks like the message's own label.
- **JSON shown to people** (the record in Slack, email and SNS): ``json_text`` -- the same characters
  as JSON escapes, so the text stays valid JSON that parses back to the very same value.
- **Slack mrkdwn**: event values go inside inline code (``slack_code``) or code blocks
  (``slack_block``), where Slack applies no ``*bold*``, ``_italic_``, ``~strike~``, links or emoji; a
  backtick inside becomes ``ˋ`` (U+02CB) so no value can close them; ``&``, ``<`` and ``>`` are escaped
  so nothing can mention or link. Trusted text (labels, the rule's own text) goes through
  ``slack_text``. The ``plain_text`` header (``slack_plain``) gets no entities (Slack shows plain text
  literally): ``<`` and ``>`` become ``‹`` ``›``, ``@channel``-style words ``＠channel``; it is sent
  with ``"emoji": false``, so a shortcode stays text. In the notification text an emoji shortcode's
  opening colon becomes ``∶`` (``no_emoji``).
- **terminals** (every CLI output): ``terminal`` writes invisible characters as JSON escapes, so a
  jq error quoting a record value cannot move the cursor, recolour or retitle the terminal, and
  JSON output stays valid JSON meaning the same.
- **HTML email**: ``html_text`` escapes everything HTML gives meaning to, after ``visible``.
- **SNS subjects**: ``sns_subject`` -- ASCII printable only (accents folded, anything else ``?``),
  starting with a letter, digit or punctuation, under 100 characters, cut with an ASCII ``...``.
- **mail subjects** (SES, and SNS subjects, which email subscriptions receive): no RFC 2047 encoded
  word (``no_encoded_words``), which a mail client would decode into characters never escaped.
"""

from __future__ import annotations

import html
import json
import re
import unicodedata
from collections.abc import Callable
from typing import Any, TextIO

# Every character of Unicode categories Cc, Cf, Cs, Zl and Zp (tests check this against unicodedata),
# the BMP's noncharacters, and the blank letters that render as nothing (Hangul fillers, the combining
# grapheme joiner, Khmer inherent vowels, the braille blank). The C0 controls are added below, with or
# without \t and \n.
_BLANKS = "\u034f\u115f\u1160\u17b4\u17b5\u2800\u3164\uffa0"  # printable, yet render as nothing
_BEYOND_C0 = (
    "\x7f-\x9f\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f"
    "\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\ud800-\udfff"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0001\U000e0020-\U000e007f"
    f"{_BLANKS}"
    # the BMP's noncharacters: U+FFFE and U+FFFF are not even allowed in an SQS message (a dead letter).
    # (The 32 of the other planes are left: SQS takes them, and each astral character in this class
    # makes every search slower, on every character of every text.)
    "\ufdd0-\ufdef\ufffe\uffff"
)
# Diacritics stacked on one letter beyond what any language writes (Vietnamese stacks two): a run of
# them ("Zalgo" text) draws over the lines above and below, hiding the message's own text. From the
# third on, each is shown as an escape like an invisible character.
_MARKS = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
_STACKED = re.compile(f"(?<=[{_MARKS}]{{2}})[{_MARKS}]")  # a separate pass: in the class below, the
_MARK_RUN = re.compile(f"[{_MARKS}]{{3}}")                # lookbehind would be tried at every character
_BLANK_OR_RUN = re.compile(f"[{_BLANKS}]|[{_MARKS}]{{3}}")  # all the class finds in printable text
_BLANK_OR_MARK = re.compile(f"[{_BLANKS}{_MARKS}]")  # one class: a quick first look for the above
_INVISIBLE = re.compile(f"[\x00-\x1f{_BEYOND_C0}]")
_INVISIBLE_BUT_LINES = re.compile(f"[\x00-\x08\x0b-\x1f{_BEYOND_C0}]")  # \t and \n kept
# ASCII text (the common case) can only hold C0 controls and DEL: a small pattern finds them many times
# faster than the full one, which is slow on its astral ranges.
_ASCII_INVISIBLE = re.compile("[\x00-\x1f\x7f]")
_ASCII_INVISIBLE_BUT_LINES = re.compile("[\x00-\x08\x0b-\x1f\x7f]")
_LINE_BREAKS = re.compile("\r\n|[\n\r\t\v\f\x1c-\x1e\x85\u2028\u2029]")
_MENTION = re.compile(r"@(?=(channel|here|everyone)\b)", re.IGNORECASE)
# ``:name:`` is an emoji shortcode wherever Slack renders emoji (``no_emoji``)
_SHORTCODE = re.compile(r":(?=[^\s:]+:)")
RATIO = "\u2236"  # ∶ looks like a colon, and no shortcode begins with it
SUBJECT_LIMIT = 99  # SNS: "less than 100 characters"


def _escape_one(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _has_invisible(text: str, keep_lines: bool) -> bool:
    if text.isascii():
        return (_ASCII_INVISIBLE_BUT_LINES if keep_lines else _ASCII_INVISIBLE).search(text) is not None
    if text.isprintable():  # C speed: no Other (Cc, Cf, Cs, Cn) or Separator (Zl, Zp, Zs) character
        return _BLANK_OR_MARK.search(text) is not None and _BLANK_OR_RUN.search(text) is not None
    return ((_INVISIBLE_BUT_LINES if keep_lines else _INVISIBLE).search(text) is not None
            or _MARK_RUN.search(text) is not None)


def _escape_all(pattern: re.Pattern[str], escape: Callable[[re.Match[str]], str], text: str) -> str:
    """Every character ``pattern`` finds escaped, then every stacked diacritic beyond the second."""
    text = pattern.sub(escape, text)
    return _STACKED.sub(escape, text) if not text.isascii() else text


def visible(text: str, *, keep_lines: bool = True) -> str:
    """``text`` with every invisible, control or reordering character written as ``\\uXXXX``. With
    ``keep_lines``, ``\\n`` and ``\\t`` stay (a ``\\r\\n`` becomes ``\\n``; a lone ``\\r`` is shown)."""
    if not _has_invisible(text, keep_lines):
        return text
    if keep_lines:
        return _escape_all(_INVISIBLE_BUT_LINES, _escape_one, text.replace("\r\n", "\n"))
    return _escape_all(_INVISIBLE, _escape_one, text)


def one_line(text: str) -> str:
    """``text`` for a one-line context: each line break or tab one space, the rest ``visible``."""
    return visible(_LINE_BREAKS.sub(" ", text), keep_lines=False)


def _json_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def json_text(value: Any, indent: int | None = None) -> str:
    """``value`` as JSON readable by a person (non-ASCII letters kept) where every invisible character
    is a JSON escape: the text is valid UTF-8 (no lone surrogate) and parses back to ``value``."""
    text = json.dumps(value, indent=indent, ensure_ascii=False, default=str)
    # json.dumps escapes the C0 controls inside strings: a raw newline is the indentation's own
    if not _has_invisible(text, keep_lines=True):
        return text
    return _escape_all(_INVISIBLE_BUT_LINES, _json_escape, text)


def cut(text: str, limit: int, marker: str = "…") -> str:
    """``text`` within ``limit`` characters, ending in ``marker`` when shortened."""
    return text if len(text) <= limit else text[: max(0, limit - len(marker))] + marker


# --- Slack --------------------------------------------------------------------------------------

def slack_text(text: str) -> str:
    """Slack's three control characters escaped, so text cannot mention ``@channel`` or link. For
    text we trust not to carry formatting of its own (labels, the rule's name and description)."""
    return visible(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_cut(text: str, limit: int, marker: str = "…") -> str:
    """Cut Slack-escaped text without splitting an ``&amp;``-style entity."""
    if len(text) <= limit:
        return text
    head = text[: max(0, limit - len(marker))]
    amp = head.rfind("&")
    if amp >= 0 and ";" not in head[amp:]:
        head = head[:amp]
    return head + marker


def slack_code(value: str, limit: int) -> str:
    """An event value as Slack inline code, on one line: no formatting, link or mention applies
    inside, and no backtick in the value can end it. At most ``limit`` characters, backticks included."""
    body = slack_text(one_line(value).replace("`", "ˋ"))
    return f"`{slack_cut(body, limit - 2, '…')}`"


def slack_block(label: str, body: str, limit: int, shortened: str) -> str:
    """``*label*`` then ``body`` in a code block that no content can close (backticks become ``ˋ``),
    within ``limit`` characters."""
    head = f"*{slack_text(one_line(label))}*\n```"
    text = slack_text(body.replace("`", "ˋ"))
    return head + slack_cut(text, limit - len(head) - 3, f"\n… ({shortened})") + "```"


def no_emoji(text: str) -> str:
    """``text`` with no emoji shortcode: the colon opening each ``:name:`` becomes ``∶`` (U+2236).
    For the notification text, where Slack turns ``:rotating_light:`` into the emoji, so a record value
    could add alarm of its own (the header is sent with ``"emoji": false``; inside inline code and code
    blocks Slack shows shortcodes as written)."""
    return _SHORTCODE.sub(RATIO, text) if ":" in text else text


def slack_plain(text: str, limit: int) -> str:
    """Text for a ``plain_text`` object (the header, sent with ``"emoji": false``, so shortcodes stay
    text): one line, no ``<...>`` that could be read as a mention or link, no ``@channel``; Slack shows
    plain text literally, so no entities are used."""
    line = one_line(text).replace("<", "‹").replace(">", "›")
    return cut(_MENTION.sub("＠", line), limit)


# --- HTML ---------------------------------------------------------------------------------------

def html_text(text: str, *, line: bool = False) -> str:
    """Text for an HTML element or attribute: escaped, invisible characters shown, and on one line
    when ``line``."""
    return html.escape(one_line(text) if line else visible(text))


# --- SNS ----------------------------------------------------------------------------------------

def ascii_line(text: str) -> str:
    """``text`` on one line of printable ASCII: accents dropped (``é`` -> ``e``), compatibility forms
    folded (``Ａ`` -> ``A``), anything else ``?``; invisible characters as ``\\uXXXX``."""
    folded = unicodedata.normalize("NFKD", one_line(text))
    out = []
    for ch in folded:
        if " " <= ch <= "~":
            out.append(ch)
        elif not unicodedata.combining(ch):
            out.append("?")
    return "".join(out)


def no_encoded_words(text: str) -> str:
    """``text`` with no RFC 2047 encoded word (``=?utf-8?b?4oCu?=``): a mail client decodes those in a
    Subject header into any characters at all (a U+202E, a forged line), past every escape above. An
    email's subject (SES) and an SNS subject (sent as the subject of email subscriptions) get a space
    between ``=`` and ``?``, which no encoded word can hold."""
    return text.replace("=?", "= ?") if "=?" in text else text


def mail_subject(text: str, limit: int) -> str:
    """An email Subject (SES): one line, runs of spaces as one, no encoded word, within ``limit``."""
    return cut(no_encoded_words(" ".join(one_line(text).split())), limit)


def sns_subject(text: str, fallback: str = "tattletail alert") -> str:
    """An SNS ``Subject``: printable ASCII, beginning with a letter, digit or punctuation mark, no
    line breaks or control characters, no encoded word, under 100 characters (cut with ``...``)."""
    line = no_encoded_words(" ".join(ascii_line(text).split()))
    if not line:
        line = fallback
    return cut(line, SUBJECT_LIMIT, "...")


# --- terminals ----------------------------------------------------------------------------------

def terminal(text: str) -> str:
    """Text for a terminal: every invisible, control or reordering character but ``\\n`` and ``\\t``
    written as a JSON escape (``\\u001b``), so ESC sequences from a record cannot recolour, move the
    cursor or retitle the terminal, a U+202E cannot reorder a line, and JSON printed stays valid JSON
    with the same meaning."""
    if not _has_invisible(text, keep_lines=True):
        return text
    return _escape_all(_INVISIBLE_BUT_LINES, _json_escape, text.replace("\r\n", "\n"))


class Terminal:
    """A text stream writing through ``terminal`` to another one: the CLI wraps its output and error
    streams in it, so no verb can print a record's control characters raw, whatever path the text
    took (a jq error quoting a value, a file name, an AWS message). A carriage return that begins a
    write is kept: it is how a progress line redraws itself, and it can hide nothing at the start of
    a line, where each ``print`` begins. A plain class, not an ``io`` one: ``run`` prints a line per
    match, and the plain ASCII line costs one search more than printing it raw."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        if text.isascii() and _ASCII_INVISIBLE_BUT_LINES.search(text) is None:
            return self.stream.write(text)
        head = "\r" if text.startswith("\r") else ""
        self.stream.write(head + terminal(text[len(head):]))
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return self.stream.isatty()

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.stream.fileno()
