"""Amazon SNS.

``format = "json"`` (the default) publishes the Go tool's payload ``{name, description, record, match}``
unchanged, so existing machine subscribers keep working. ``format = "text"`` publishes a readable
plain-text body for topics that fan out to email. Both carry a ``Subject`` from the ``subject``
template within SNS's documented rules (printable ASCII, no line breaks or control characters, under
100 characters: ``escape.sns_subject``), so SNS never rejects a message for its subject -- a rejection
would be permanent, and redrive could never deliver it. Messages are kept within SNS's 256 KB limit.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Set as AbstractSet
from typing import Any, ClassVar

from tattletail import aws
from tattletail.alerts import escape as esc
from tattletail.alerts.alert import Alert, Digest, View
from tattletail.destinations.base import Destination, KeySpec
from tattletail.rules import Match

MESSAGE_LIMIT = 256 * 1024  # bytes, UTF-8
SUBJECT_LIMIT = esc.SUBJECT_LIMIT  # characters: SNS wants "less than 100"
ARN = re.compile(r"^arn:aws[a-zA-Z-]*:sns:[a-z0-9-]+:\d+:[A-Za-z0-9_-]{1,256}(\.fifo)?$")
FORMATS = ("json", "text")
DEFAULT_SUBJECT = "{summary}"
SUBJECT_FIELDS = ("summary", "title", "rule", "severity", "event", "who", "account", "region")
# Parts of a record that can be large, replaced in this order when a message does not fit.
_BULKY = ("responseElements", "requestParameters", "additionalEventData", "resources", "serviceEventDetails")


def payload(match: Match, limit: int = MESSAGE_LIMIT) -> str:
    """The Go tool's message; ``match`` is jq's first output as it sends it (the record itself for a
    plain ``select``). When over ``limit`` bytes, the bulky parts of the record are replaced by a note
    of their size, one at a time, and a ``shortened`` key lists what was cut; the message always stays
    valid JSON (it is never cut mid-text)."""
    rule, record, value = match.rule, match.record, match.value
    value_is_record = match.annotation is None and value is not True
    shortened: list[str] = []
    message = _dump(rule.name, rule.description, record, value, shortened)
    for key in (*_BULKY, "match", "record", "whole"):
        if len(message.encode()) <= limit:
            return message
        if key == "whole":  # a record of very many small fields: only its size is left
            record = _note(record)  # type: ignore[assignment]
        elif key == "match":
            if value_is_record:
                continue
            value = _note(value)
        elif key == "record":  # last resort: every remaining large field
            record = {k: (v if len(json.dumps(v)) < 1024 else _note(v)) for k, v in record.items()}
        elif record.get(key) is not None:
            record = {**record, key: _note(record[key])}
        else:
            continue
        if value_is_record:
            value = record
        shortened.append(key)
        message = _dump(rule.name, rule.description, record, value, shortened)
    return message


def _short(value: Any, limit: int = 1000) -> Any:
    """A digest's string values, each at most ``limit`` characters (a flood of long names must fit)."""
    return esc.cut(value, limit) if isinstance(value, str) else value


def _note(value: Any) -> str:
    return f"[shortened: {len(json.dumps(value))} characters]"


def _dump(name: str, description: str, record: Any, value: Any, shortened: list[str]) -> str:
    body: dict[str, Any] = {"name": name, "description": description, "record": record, "match": value}
    if shortened:
        body["shortened"] = shortened
    return esc.json_text(body)  # valid UTF-8 whatever the record holds (lone surrogates escaped)


def subject(template: str, alert: Alert, view: View) -> str:
    """The template filled from the alert, as SNS accepts a subject (see ``escape.sns_subject``). SNS
    takes ASCII only, so the subject's labels are English whatever the view's language (the body is
    in the reader's language)."""
    view = View(view.timezone, "en")
    facts = alert.facts
    values = {"summary": view.summary(alert), "title": alert.title, "rule": alert.rule.name,
              "severity": view.severity(alert) or "", "event": facts.event_name or "",
              "who": facts.who.display() or "", "account": facts.account or "", "region": facts.region or ""}
    return esc.sns_subject(template.format(**values), fallback=esc.sns_subject(alert.rule.name))


def _cut_bytes(text: str, limit: int) -> str:
    data = text.encode()
    return text if len(data) <= limit else data[: limit - 16].decode(errors="ignore") + "\n… (shortened)"


class Sns(Destination):
    """Publishes to one SNS topic (client made in the topic's own region)."""

    type: ClassVar[str] = "sns"
    KEYS: ClassVar[KeySpec] = {"sns_arn": (str, True), "format": (str, False), "subject": (str, False)}

    def __init__(self, id: str, sns_arn: str, format: str = "json", subject: str = DEFAULT_SUBJECT, *,
                 view: View | None = None, digest_threshold: int = Destination.DIGEST_THRESHOLD,
                 client: Any = None) -> None:
        super().__init__(id, view=view, digest_threshold=digest_threshold)
        self.sns_arn = sns_arn
        self.format = format
        self.subject = subject
        self._client = client
        self._clients: aws.Clients | None = None
        self._within: float | None = None  # the time the current try may take

    @classmethod
    def validate(cls, values: dict[str, Any], unresolved: AbstractSet[str] = frozenset()) -> list[str]:
        problems = []
        if "sns_arn" not in unresolved and not ARN.match(values["sns_arn"]):
            problems.append("sns_arn is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:TOPIC): "
                            f"{values['sns_arn']!r}")
        if values.get("format", "json") not in FORMATS:
            problems.append(f"unknown format {values['format']!r} (valid: {', '.join(FORMATS)})")
        if "subject" in values:
            try:
                names = {name for _, name, _, _ in string.Formatter().parse(values["subject"]) if name is not None}
            except ValueError as exc:
                problems.append(f"subject is not a valid template: {exc}")
            else:
                for name in sorted(names - set(SUBJECT_FIELDS)):
                    problems.append(f"subject uses unknown field {{{name}}} (valid: {', '.join(SUBJECT_FIELDS)})")
        return problems

    def __repr__(self) -> str:
        return f"Sns(id={self.id!r}, sns_arn={self.sns_arn!r}, format={self.format!r})"

    @property
    def client(self) -> Any:
        """The client given, else one whose calls end within the current try's time (``deliver``)."""
        if self._client is not None:
            return self._client
        if self._clients is None:
            self._clients = aws.Clients("sns", self.sns_arn.split(":")[3])
        return self._clients.get(self._within)

    def render(self, alert: Alert) -> dict[str, Any]:
        """The ``Publish`` parameters (less the topic)."""
        if self.format == "json":
            return {"Message": payload(alert.match), "Subject": subject(self.subject, alert, self.view)}
        return {"Message": _cut_bytes(self.view.plain_text(alert), MESSAGE_LIMIT),
                "Subject": subject(self.subject, alert, self.view)}

    def render_digest(self, digest: Digest) -> dict[str, Any]:
        """JSON: the Go payload of the first match plus a ``digest`` key; text: the digest as text."""
        line = esc.sns_subject(View(self.view.timezone, "en").digest_summary(digest))  # ASCII: English
        if self.format == "text":
            return {"Message": _cut_bytes(self.view.digest_text(digest), MESSAGE_LIMIT), "Subject": line}
        body: dict[str, Any] = (json.loads(payload(digest.first[0].match)) if digest.first else
                                {"name": digest.rule.name, "description": digest.rule.description,
                                 "record": None, "match": None})
        body["digest"] = {
            "count": digest.count, "object": _short(digest.source),
            "first": [{"eventID": _short(a.record.get("eventID")), "eventTime": _short(a.record.get("eventTime")),
                       "eventName": _short(a.facts.event_name), "who": _short(a.facts.who.display()),
                       "match": a.match.value if len(esc.json_text(a.match.value)) < 1024 else _note(a.match.value)}
                      for a in digest.first],
            "by_who": {_short(k): n for k, n in digest.by_who}, "by_event": {_short(k): n for k, n in digest.by_event},
        }
        room = MESSAGE_LIMIT - len(esc.json_text(body["digest"]).encode()) - 64
        if digest.first and len(esc.json_text(body).encode()) > MESSAGE_LIMIT:  # the first match makes room
            body = {**json.loads(payload(digest.first[0].match, room)), "digest": body["digest"]}
        return {"Message": esc.json_text(body), "Subject": line}

    def show(self, rendered: dict[str, Any]) -> str:
        return f"Subject: {rendered['Subject']}\n\n{rendered['Message']}"

    def deliver(self, rendered: dict[str, Any], timeout: float | None = None) -> None:
        """Once (botocore's own retries off when timed: ``retry.call`` retries throttling and 5xx), its
        connect and read timeouts capped by ``timeout``."""
        self._within = timeout
        try:
            self.client.publish(TopicArn=self.sns_arn, **rendered)
        except Exception as exc:  # botocore raises many unrelated types; classified by aws.delivery_error
            raise aws.delivery_error(exc, f'destination "{self.id}" (sns {self.sns_arn})') from None
