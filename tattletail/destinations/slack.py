"""Slack incoming webhooks: a Block Kit message a person reads at a glance.

Header with a severity marker and the title; the rule and severity; the description and annotation;
the facts as fields; the rule's extra fields; links to the runbook and the console; the raw event in a
code block. Everything taken from the event or a rule's output goes through ``tattletail.alerts.escape``:
values in inline code or code blocks that nothing can close, the header as plain text with no
mention, so a crafted userAgent cannot format, link, mention ``@channel`` or forge a line; and every
text is cut to Block Kit's limits.

The transport is urllib3, not requests: botocore brings it, so the Lambda runtime already has it and the
zip need not ship a second HTTP stack; it is imported on the first delivery only (a cold start that
sends nothing does not pay for it).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from tattletail import redact
from tattletail.alerts import escape as esc
from tattletail.alerts.alert import Alert, Digest, View, pretty_json
from tattletail.destinations.base import Destination, KeySpec, is_placeholder, mask_url, scrub, url_problem
from tattletail.errors import DeliveryError, RetryableDeliveryError

if TYPE_CHECKING:
    import urllib3

TEXT_LIMIT = 3000        # characters of text in a section block
FIELD_LIMIT = 2000       # characters of one section field
HEADER_LIMIT = 150       # characters of a header block's plain text
FIELDS_PER_SECTION = 10
BLOCK_LIMIT = 50
EXPECTED_URL = "https://hooks.slack.com/services/..."
# the severity markers as the emoji themselves, not shortcodes: the header shows text literally
# (``"emoji": false``), so a ``:name:`` in a record value stays text and an ARN or a time keeps its colons
MARKERS = {"critical": "\U0001f534", "high": "\U0001f7e0", "medium": "\U0001f7e1", "low": "\U0001f535",
           "info": "\u26aa"}
NO_SEVERITY = "\U0001f514"  # a bell


def escape(text: str) -> str:
    """Slack's three control characters, so text cannot mention @channel or link (trusted text)."""
    return esc.slack_text(text)


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": esc.slack_cut(text, TEXT_LIMIT)}}


def _code(label: str, body: str, view: View) -> dict[str, Any]:
    return _section(esc.slack_block(label, body, TEXT_LIMIT, view.label("shortened")))


def _fields(rows: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Sections of ``*label*`` over the value in inline code, ten fields each."""
    sections = []
    for start in range(0, len(rows), FIELDS_PER_SECTION):
        fields = []
        for name, value in rows[start:start + FIELDS_PER_SECTION]:
            label = f"*{esc.slack_cut(escape(esc.one_line(name)), 200)}*\n"
            fields.append({"type": "mrkdwn", "text": label + esc.slack_code(value, FIELD_LIMIT - len(label))})
        sections.append({"type": "section", "fields": fields})
    return sections


def _link(url: str, text: str) -> str:
    safe = esc.one_line(url).replace("|", "%7C").replace(">", "%3E").replace("<", "%3C").replace(" ", "%20")
    return f"<{safe}|{escape(esc.one_line(text))}>"


def _header(marker: str, title: str) -> dict[str, Any]:
    """Our marker is the only emoji: Slack does not turn the title's shortcodes into emoji
    (``"emoji": false``), so a record value cannot pass for our marker nor add alarm of its own."""
    text = f"{marker} {esc.slack_plain(title, HEADER_LIMIT - len(marker) - 1)}"
    return {"type": "header", "text": {"type": "plain_text", "text": text, "emoji": False}}


def _fallback(marker: str, summary: str) -> dict[str, Any]:
    """The notification text: one line, escaped, and not read as mrkdwn (``mrkdwn: false``)."""
    line = f"{marker} {escape(esc.no_emoji(esc.one_line(summary)))}"
    return {"text": esc.slack_cut(line, TEXT_LIMIT), "mrkdwn": False}


def render(alert: Alert, view: View) -> dict[str, Any]:
    """The webhook payload for one alert."""
    marker = MARKERS.get(alert.severity or "", NO_SEVERITY)
    blocks: list[dict[str, Any]] = [_header(marker, alert.title)]
    context = f"*{escape(view.label('rule'))}:* {escape(esc.one_line(alert.rule.name))}"
    if alert.severity:
        context += f"  |  *{escape(view.label('severity'))}:* {escape(view.severity(alert) or '')}"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": esc.slack_cut(context, TEXT_LIMIT)}]})
    if alert.rule.description:
        blocks.append(_section(escape(alert.rule.description)))
    if alert.annotation is not None:
        blocks.append(_code(view.label("match"), alert.annotation, view))
    tail = [_code(view.label("record"), pretty_json(alert.record), view)]
    links = view.links(alert)
    if links:
        tail.insert(0, _section("  |  ".join(_link(url, name) for name, url in links)))
    rows = _fields(view.facts(alert)) + _fields(view.fields(alert))
    blocks += rows[: BLOCK_LIMIT - len(blocks) - len(tail)] + tail
    return {**_fallback(marker, view.summary(alert)), "blocks": blocks}


def _lines(items: list[str]) -> str:
    """Event values one per line, each in inline code, as many as fit in a section."""
    shown: list[str] = []
    room = TEXT_LIMIT - 200
    for item in items:
        room -= len(item) + 1
        if room < 0:
            shown.append("…")
            break
        shown.append(item)
    return "\n".join(shown)


def render_digest(digest: Digest, view: View) -> dict[str, Any]:
    """One message for many matches: count, the first matches with their facts, who and which events."""
    marker = MARKERS.get(digest.rule.severity or "", NO_SEVERITY)
    blocks: list[dict[str, Any]] = [
        _header(marker, digest.title),
        {"type": "context", "elements": [{"type": "mrkdwn", "text": esc.slack_cut(
            f"*{escape(view.label('object'))}:* {esc.slack_code(digest.source, 1000)}", TEXT_LIMIT)}]},
    ]
    if digest.rule.description:
        blocks.append(_section(escape(digest.rule.description)))
    first = _lines([f"• {esc.slack_code(view.digest_line(alert), 600)}" for alert in digest.first])
    blocks.append(_section(f"*{escape(view.label('first_matches'))}*\n{first}"))
    for key, counts in (("by_who", digest.by_who), ("by_event", digest.by_event)):
        rows = _lines([f"{n} × {esc.slack_code(value, 300)}" for value, n in counts])
        blocks.append(_section(f"*{escape(view.label(key))}*\n{rows}"))
    return {**_fallback(marker, view.digest_summary(digest)), "blocks": blocks}


class SlackWebhook(Destination):
    """Posts to a Slack incoming webhook. The URL is a secret: only its masked form is ever shown,
    and it is registered with ``tattletail.redact`` so no log line or dead letter can carry it."""

    type: ClassVar[str] = "slack_webhook"
    KEYS: ClassVar[KeySpec] = {"webhook_url": (str, True), "timeout": (float, False)}

    def __init__(self, id: str, webhook_url: str, timeout: float = 10.0, *, view: View | None = None,
                 digest_threshold: int = Destination.DIGEST_THRESHOLD, http: urllib3.PoolManager | None = None) -> None:
        super().__init__(id, view=view, digest_threshold=digest_threshold)
        self._url = webhook_url
        if "://" in webhook_url:  # not a secret reference left unresolved (check without --resolve)
            redact.register(webhook_url)
        self._http = http
        self._timeout = float(timeout)

    @classmethod
    def placeholder(cls, values: dict[str, Any], unresolved: AbstractSet[str] = frozenset()) -> dict[str, str]:
        """A ``webhook_url`` left as an example had it (``base.is_placeholder``), e.g.
        ``"___YOUR_SLACK_WEBHOOK___"``, the Go tool's documented example. A URL is shown masked; a value that
        is no URL is shown as written when it holds no slash (it is no secret), else not at all."""
        url = values["webhook_url"]
        if "webhook_url" in unresolved or not is_placeholder(url):
            return {}
        try:
            is_url = urlsplit(url).scheme in ("https", "http") and bool(urlsplit(url).hostname)
        except ValueError:
            is_url = False
        shown = mask_url(url) if is_url else repr(url) if "/" not in url else "(not shown)"
        return {"webhook_url": f"webhook_url {shown} is a placeholder, not a Slack webhook URL "
                               f"(expected {EXPECTED_URL})"}

    @classmethod
    def validate(cls, values: dict[str, Any], unresolved: AbstractSet[str] = frozenset()) -> list[str]:
        """The URL checked whole (scheme, host, port, characters), never quoted in the message. A
        placeholder passes here: it is reported by ``unusable`` (a warning), not as a load error."""
        problems = []
        url = values["webhook_url"]
        if "webhook_url" not in unresolved and not is_placeholder(url):
            problem = url_problem(url)
            if problem:
                problems.append(f"webhook_url {problem} ({mask_url(url)})")
        if not 0 < values.get("timeout", 10.0) <= 60:
            problems.append(f"timeout must be between 0 and 60 seconds, not {values['timeout']}")
        return problems

    def unusable(self) -> str | None:
        if is_placeholder(self._url):
            return "webhook_url is a placeholder, not a webhook URL"
        problem = url_problem(self._url)
        return f"webhook_url {problem}" if problem else None

    def __repr__(self) -> str:
        return f"SlackWebhook(id={self.id!r}, webhook_url={mask_url(self._url)!r})"

    def render(self, alert: Alert) -> dict[str, Any]:
        return render(alert, self.view)

    def render_digest(self, digest: Digest) -> dict[str, Any]:
        return render_digest(digest, self.view)

    def deliver(self, rendered: dict[str, Any], timeout: float | None = None) -> None:
        """POST once. 429 (with its Retry-After), 5xx, timeouts and connection errors are retryable;
        any other status, and a URL that cannot be sent to, are not. Nothing else escapes: whatever
        fails becomes a ``DeliveryError`` whose message never holds the URL. With ``timeout`` (the time
        this try may take), connecting and reading each wait at most half of it, the whole request at
        most all of it (a server trickling its answer cannot hold the try longer), and never longer than
        the configured ``timeout``."""
        import urllib3  # here, not at the top: most cold starts send nothing, and importing it costs

        where = f'destination "{self.id}" (slack_webhook {mask_url(self._url)})'
        unusable = self.unusable()
        if unusable:
            raise DeliveryError(f"{where}: {unusable}")
        wait = self._timeout if timeout is None else max(0.01, min(self._timeout, timeout / 2))
        total = self._timeout if timeout is None else max(0.01, min(self._timeout, timeout))
        try:
            response = _within(total, lambda: _pool(self).request(
                "POST", self._url, body=json.dumps(rendered).encode("utf-8"),
                headers={"Content-Type": "application/json"},
                timeout=urllib3.Timeout(connect=wait, read=wait, total=total), retries=False, redirect=False))
        except TimeoutError as exc:
            raise RetryableDeliveryError(f"{where}: {exc}") from None
        except (urllib3.exceptions.LocationValueError, urllib3.exceptions.LocationParseError) as exc:
            raise DeliveryError(f"{where}: {type(exc).__name__}: {scrub(str(exc), self._url)}") from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise RetryableDeliveryError(f"{where}: {type(exc).__name__}: {scrub(str(exc), self._url)}") from None
        except Exception as exc:  # the codec or urllib3 on an input nobody foresaw: still a delivery error
            raise DeliveryError(f"{where}: {type(exc).__name__}: {scrub(str(exc), self._url)}") from None
        status = response.status
        if 200 <= status < 300:
            return
        # masked before it is cut: a cut through the URL would leave a part no mask recognises
        text = scrub(response.data[:65536].decode("utf-8", "replace"), self._url)
        message = f"{where}: HTTP {status}: {esc.cut(esc.one_line(text), 200)}"
        if status == 429:
            raise RetryableDeliveryError(message, _retry_after(response.headers.get("Retry-After")))
        if status >= 500:
            raise RetryableDeliveryError(message)
        raise DeliveryError(message)


def _within(seconds: float, call: Callable[[], Any]) -> Any:
    """``call()``, or ``TimeoutError`` once ``seconds`` (and a margin) of wall clock have passed.
    urllib3's timeouts bound each socket operation, so a server trickling its answer a byte at a time
    could hold a request for ever; the request runs on a daemon thread here and is abandoned then."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append((True, call()))
        except BaseException as exc:  # handed back to the caller's thread as it is
            outcome.append((False, exc))

    worker = threading.Thread(target=run, name="slack-post", daemon=True)
    worker.start()
    # urllib3's own timeouts end an ordinary slow answer first; this bound, a little later, only ends a
    # trickled one, and a margin keeps a busy machine's scheduling from abandoning a finished request.
    worker.join(seconds + max(0.5, seconds / 4))
    if not outcome:
        raise TimeoutError(f"no complete answer within {seconds:.1f} s (the request was abandoned)")
    ok, value = outcome[0]
    if not ok:
        raise value
    return value


_shared: list[urllib3.PoolManager] = []


def _pool(destination: SlackWebhook) -> urllib3.PoolManager:
    """The destination's own pool when one was handed in, else one shared by every webhook of the
    process (kept across invocations of a warm Lambda, so the TLS connection to Slack is reused)."""
    if destination._http is not None:
        return destination._http
    if not _shared:
        import urllib3

        _shared.append(urllib3.PoolManager(maxsize=4))
    return _shared[0]


def _retry_after(header: str | None) -> float | None:
    try:
        return max(0.0, float(header)) if header is not None else None
    except ValueError:
        return None
