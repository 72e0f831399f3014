"""Slack incoming webhooks: a Block Kit message a person reads at a glance.

Header with a severity marker and the title; the rule and severity; the description and annotation;
the facts as fields; the rule's extra fields; links to the runbook and the console; the raw event in a
code block. Everything taken from the event is escaped for Slack (``&``, ``<``, ``>``), so a crafted
userAgent cannot mention ``@channel`` or inject links, and every text is cut to Slack's limits.

The transport is urllib3, not requests: botocore brings it, so the Lambda runtime already has it and the
zip need not ship a second HTTP stack; it is imported on the first delivery only (a cold start that
sends nothing does not pay for it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from tattletail.alerts.alert import Alert, Digest, View, pretty_json
from tattletail.destinations.base import Destination, KeySpec, mask_url, scrub
from tattletail.errors import DeliveryError, RetryableDeliveryError

if TYPE_CHECKING:
    import urllib3

TEXT_LIMIT = 3000        # characters of text in a section block
FIELD_LIMIT = 2000       # characters of one section field
HEADER_LIMIT = 150       # characters of a header block's plain text
FIELDS_PER_SECTION = 10
BLOCK_LIMIT = 50
EXPECTED_URL = "https://hooks.slack.com/services/..."
# what people write for "put yours here"; upper case only for YOUR, so a real host like yourteam.example is not one
PLACEHOLDER_MARKS = re.compile(r"YOUR|_{3}|(?i:change[-_]?me|replace[-_]?me|placeholder)|<[^>]*>|^\s*$")
MARKERS = {"critical": ":red_circle:", "high": ":large_orange_circle:", "medium": ":large_yellow_circle:",
           "low": ":large_blue_circle:", "info": ":white_circle:"}


def escape(text: str) -> str:
    """Slack's three control characters, so text from an event can't mention @channel or link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int, marker: str = "\n… (shortened)") -> str:
    return text if len(text) <= limit else text[: limit - len(marker)] + marker


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, TEXT_LIMIT)}}


def _code(label: str, body: str, view: View) -> dict[str, Any]:
    head = f"*{escape(label)}*\n```"
    room = TEXT_LIMIT - len(head) - 3
    return _section(head + _cut(escape(body), room, f"\n… ({view.label('shortened')})") + "```")


def _fields(rows: list[tuple[str, str]]) -> list[dict[str, Any]]:
    sections = []
    for start in range(0, len(rows), FIELDS_PER_SECTION):
        fields = [{"type": "mrkdwn", "text": _cut(f"*{escape(name)}*\n{escape(value)}", FIELD_LIMIT)}
                  for name, value in rows[start:start + FIELDS_PER_SECTION]]
        sections.append({"type": "section", "fields": fields})
    return sections


def _link(url: str, text: str) -> str:
    safe = url.replace("|", "%7C").replace(">", "%3E").replace("<", "%3C")
    return f"<{safe}|{escape(text)}>"


def render(alert: Alert, view: View) -> dict[str, Any]:
    """The webhook payload for one alert."""
    marker = MARKERS.get(alert.severity or "", ":bell:")
    blocks: list[dict[str, Any]] = [
        {"type": "header",
         "text": {"type": "plain_text", "text": _cut(f"{marker} {alert.title}", HEADER_LIMIT, "…"), "emoji": True}},
    ]
    context = f"*{escape(view.label('rule'))}:* {escape(alert.rule.name)}"
    if alert.severity:
        context += f"  |  *{escape(view.label('severity'))}:* {escape(view.severity(alert) or '')}"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(context, TEXT_LIMIT)}]})
    if alert.rule.description:
        blocks.append(_section(escape(alert.rule.description)))
    if alert.annotation is not None:
        blocks.append(_code(view.label("match"), alert.annotation, view))
    tail = [_code(view.label("record"), pretty_json(alert.record), view)]
    links = view.links(alert)
    if links:
        tail.insert(0, _section("  |  ".join(_link(url, name) for name, url in links)))
    rows = _fields(view.facts(alert)) + _fields(list(alert.fields))
    blocks += rows[: BLOCK_LIMIT - len(blocks) - len(tail)] + tail
    return {"text": _cut(escape(f"{marker} {view.summary(alert)}"), TEXT_LIMIT), "blocks": blocks}


def render_digest(digest: Digest, view: View) -> dict[str, Any]:
    """One message for many matches: count, the first matches with their facts, who and which events."""
    marker = MARKERS.get(digest.rule.severity or "", ":bell:")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "emoji": True,
                                    "text": _cut(f"{marker} {digest.title}", HEADER_LIMIT, "…")}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(
            f"*{escape(view.label('object'))}:* {escape(digest.source)}", TEXT_LIMIT)}]},
    ]
    if digest.rule.description:
        blocks.append(_section(escape(digest.rule.description)))
    first = "\n".join(f"• {escape(view.digest_line(alert))}" for alert in digest.first)
    blocks.append(_section(f"*{escape(view.label('first_matches'))}*\n{first}"))
    for key, counts in (("by_who", digest.by_who), ("by_event", digest.by_event)):
        rows = "\n".join(f"{n} × {escape(value)}" for value, n in counts)
        blocks.append(_section(f"*{escape(view.label(key))}*\n{rows}"))
    return {"text": _cut(escape(f"{marker} {view.digest_summary(digest)}"), TEXT_LIMIT), "blocks": blocks}


class SlackWebhook(Destination):
    """Posts to a Slack incoming webhook. The URL is a secret: only its masked form is ever shown."""

    type: ClassVar[str] = "slack_webhook"
    KEYS: ClassVar[KeySpec] = {"webhook_url": (str, True), "timeout": (float, False)}

    def __init__(self, id: str, webhook_url: str, timeout: float = 10.0, *, view: View | None = None,
                 digest_threshold: int = Destination.DIGEST_THRESHOLD, http: urllib3.PoolManager | None = None) -> None:
        super().__init__(id, view=view, digest_threshold=digest_threshold)
        self._url = webhook_url
        self._http = http
        self._timeout = float(timeout)

    @classmethod
    def placeholder(cls, values: dict[str, Any], unresolved: AbstractSet[str] = frozenset()) -> dict[str, str]:
        """A ``webhook_url`` that is no URL at all (``"___YOUR_SLACK_WEBHOOK___"``, the Go tool's documented
        example) or one with a placeholder's marks in it. A value that is no URL is shown as written (it is
        no secret); a URL only masked."""
        url = values["webhook_url"]
        if "webhook_url" in unresolved:
            return {}
        try:
            parts = urlsplit(url)
            is_url = parts.scheme in ("https", "http") and bool(parts.hostname)
        except ValueError:
            is_url = False
        marked = PLACEHOLDER_MARKS.search(url) is not None
        if is_url and not marked:
            return {}
        if is_url:
            shown = mask_url(url)
        elif marked or len(url) <= 40 and "/" not in url:
            shown = repr(url)
        else:
            shown = "(not shown)"
        return {"webhook_url": f"webhook_url {shown} is a placeholder, not a Slack webhook URL "
                               f"(expected {EXPECTED_URL})"}

    @classmethod
    def validate(cls, values: dict[str, Any], unresolved: AbstractSet[str] = frozenset()) -> list[str]:
        problems = []
        parts = urlsplit(values["webhook_url"])
        if "webhook_url" not in unresolved and (parts.scheme not in ("https", "http") or not parts.hostname):
            problems.append(f"webhook_url is not an http(s) URL: {mask_url(values['webhook_url'])}")
        if not 0 < values.get("timeout", 10.0) <= 60:
            problems.append(f"timeout must be between 0 and 60 seconds, not {values['timeout']}")
        return problems

    def __repr__(self) -> str:
        return f"SlackWebhook(id={self.id!r}, webhook_url={mask_url(self._url)!r})"

    def render(self, alert: Alert) -> dict[str, Any]:
        return render(alert, self.view)

    def render_digest(self, digest: Digest) -> dict[str, Any]:
        return render_digest(digest, self.view)

    def deliver(self, rendered: dict[str, Any], timeout: float | None = None) -> None:
        """POST once. 429 (with its Retry-After), 5xx, timeouts and connection errors are retryable;
        any other status is not. With ``timeout`` (the time this try may take), connecting and reading
        each wait at most half of it, and never longer than the configured ``timeout``."""
        import urllib3  # here, not at the top: most cold starts send nothing, and importing it costs

        where = f'destination "{self.id}" (slack_webhook {mask_url(self._url)})'
        wait = self._timeout if timeout is None else max(0.01, min(self._timeout, timeout / 2))
        try:
            response = _pool(self).request(
                "POST", self._url, body=json.dumps(rendered).encode("utf-8"),
                headers={"Content-Type": "application/json"}, timeout=urllib3.Timeout(connect=wait, read=wait),
                retries=False, redirect=False)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise RetryableDeliveryError(f"{where}: {type(exc).__name__}: {scrub(str(exc), self._url)}") from None
        status = response.status
        if 200 <= status < 300:
            return
        text = response.data[:200].decode("utf-8", "replace")
        message = f"{where}: HTTP {status}: {scrub(text, self._url)}"
        if status == 429:
            raise RetryableDeliveryError(message, _retry_after(response.headers.get("Retry-After")))
        if status >= 500:
            raise RetryableDeliveryError(message)
        raise DeliveryError(message)


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
