"""Slack incoming webhooks: a readable Block Kit message, escaped and cut to Slack's limits."""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests

from tattletail.destinations.base import Destination, KeySpec, mask_url, scrub
from tattletail.errors import DeliveryError
from tattletail.facts import key_facts
from tattletail.message import annotation_text, pretty_json
from tattletail.rules import Match

TEXT_LIMIT = 3000        # characters of text in a section block
FIELD_LIMIT = 2000       # characters of one section field
HEADER_LIMIT = 150       # characters of a header block's plain text
FIELDS_PER_SECTION = 10


def escape(text: str) -> str:
    """Slack's three control characters, so text from an event can't mention @channel or link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int, marker: str = "\n… (shortened)") -> str:
    return text if len(text) <= limit else text[: limit - len(marker)] + marker


def _code(label: str, body: str) -> dict[str, Any]:
    head = f"*{label}*\n```"
    room = TEXT_LIMIT - len(head) - 3
    return {"type": "section", "text": {"type": "mrkdwn", "text": head + _cut(escape(body), room) + "```"}}


def render(match: Match) -> dict[str, Any]:
    """The webhook payload for one match."""
    rule = match.rule
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(rule.name, HEADER_LIMIT, "…")}},
    ]
    if rule.description:
        blocks.append({"type": "section",
                       "text": {"type": "mrkdwn", "text": _cut(escape(rule.description), TEXT_LIMIT)}})
    note = annotation_text(match)
    if note is not None:
        blocks.append(_code("Match", note))
    facts = key_facts(match.record)
    for start in range(0, len(facts), FIELDS_PER_SECTION):
        fields = [{"type": "mrkdwn", "text": _cut(f"*{label}*\n{escape(value)}", FIELD_LIMIT)}
                  for label, value in facts[start:start + FIELDS_PER_SECTION]]
        blocks.append({"type": "section", "fields": fields})
    blocks.append(_code("CloudTrail record", pretty_json(match.record)))
    summary = dict(facts)
    fallback = f"{rule.name}: {summary.get('Event', 'event')}"
    if "Who" in summary:
        fallback += f" by {summary['Who']}"
    return {"text": _cut(escape(fallback), TEXT_LIMIT), "blocks": blocks}


class SlackWebhook(Destination):
    """Posts to a Slack incoming webhook. The URL is a secret: only its masked form is ever shown."""

    type: ClassVar[str] = "slack_webhook"
    KEYS: ClassVar[KeySpec] = {"webhook_url": (str, True)}

    def __init__(self, id: str, webhook_url: str, *, session: requests.Session | None = None,
                 timeout: float = 10.0) -> None:
        super().__init__(id)
        self._url = webhook_url
        self._session = session or requests.Session()
        self._timeout = timeout

    @classmethod
    def validate(cls, values: dict[str, Any]) -> list[str]:
        parts = urlsplit(values["webhook_url"])
        if parts.scheme not in ("https", "http") or not parts.hostname:
            return [f"webhook_url is not an http(s) URL: {mask_url(values['webhook_url'])}"]
        return []

    def __repr__(self) -> str:
        return f"SlackWebhook(id={self.id!r}, webhook_url={mask_url(self._url)!r})"

    def send(self, match: Match) -> None:
        try:
            response = self._session.post(self._url, json=render(match), timeout=self._timeout)
        except requests.RequestException as exc:
            raise DeliveryError(f'destination "{self.id}" (slack_webhook {mask_url(self._url)}): '
                                f"{type(exc).__name__}: {scrub(str(exc), self._url)}") from None
        if not 200 <= response.status_code < 300:
            body = scrub(response.text[:200], self._url)
            raise DeliveryError(f'destination "{self.id}" (slack_webhook {mask_url(self._url)}): '
                                f"HTTP {response.status_code}: {body}")
