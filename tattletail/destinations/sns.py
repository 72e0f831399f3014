"""Amazon SNS.

``format = "json"`` (the default) publishes the Go tool's payload ``{name, description, record, match}``
unchanged, so existing machine subscribers keep working. ``format = "text"`` publishes a readable
plain-text body for topics that fan out to email, with a ``Subject`` (at most 100 characters, no line
breaks) from the ``subject`` template. Messages are kept within SNS's 256 KB limit.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Set as AbstractSet
from typing import Any, ClassVar

from tattletail import aws
from tattletail.alerts.alert import Alert, Digest, View
from tattletail.destinations.base import Destination, KeySpec
from tattletail.rules import Match

MESSAGE_LIMIT = 256 * 1024  # bytes, UTF-8
SUBJECT_LIMIT = 100
ARN = re.compile(r"^arn:aws[a-zA-Z-]*:sns:[a-z0-9-]+:\d+:[A-Za-z0-9_-]{1,256}(\.fifo)?$")
FORMATS = ("json", "text")
DEFAULT_SUBJECT = "{summary}"
SUBJECT_FIELDS = ("summary", "title", "rule", "severity", "event", "who", "account", "region")
# Parts of a record that can be large, replaced in this order when a message does not fit.
_BULKY = ("responseElements", "requestParameters", "additionalEventData", "resources", "serviceEventDetails")


def payload(match: Match) -> str:
    """The Go tool's message; ``match`` is jq's first output as it sends it (the record itself for a
    plain ``select``). When over the limit, the bulky parts of the record are replaced by a note of
    their size, one at a time, and a ``shortened`` key lists what was cut."""
    rule, record, value = match.rule, match.record, match.value
    value_is_record = match.annotation is None and value is not True
    shortened: list[str] = []
    message = _dump(rule.name, rule.description, record, value, shortened)
    for key in (*_BULKY, "match", "record"):
        if len(message.encode()) <= MESSAGE_LIMIT:
            return message
        if key == "match":
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


def _note(value: Any) -> str:
    return f"[shortened: {len(json.dumps(value))} characters]"


def _dump(name: str, description: str, record: Any, value: Any, shortened: list[str]) -> str:
    body: dict[str, Any] = {"name": name, "description": description, "record": record, "match": value}
    if shortened:
        body["shortened"] = shortened
    return json.dumps(body, ensure_ascii=False)


def subject(template: str, alert: Alert, view: View) -> str:
    """The template filled from the alert, on one line, within SNS's 100 characters."""
    facts = alert.facts
    values = {"summary": view.summary(alert), "title": alert.title, "rule": alert.rule.name,
              "severity": view.severity(alert) or "", "event": facts.event_name or "",
              "who": facts.who.display() or "", "account": facts.account or "", "region": facts.region or ""}
    line = " ".join(template.format(**values).split())  # no line breaks or control characters
    return line if len(line) <= SUBJECT_LIMIT else line[: SUBJECT_LIMIT - 1] + "…"


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
        line = " ".join(self.view.digest_summary(digest).split())[:SUBJECT_LIMIT]
        if self.format == "text":
            return {"Message": _cut_bytes(self.view.digest_text(digest), MESSAGE_LIMIT), "Subject": line}
        body: dict[str, Any] = (json.loads(payload(digest.first[0].match)) if digest.first else
                                {"name": digest.rule.name, "description": digest.rule.description,
                                 "record": None, "match": None})
        body["digest"] = {
            "count": digest.count, "object": digest.source,
            "first": [{"eventID": a.record.get("eventID"), "eventTime": a.record.get("eventTime"),
                       "eventName": a.facts.event_name, "who": a.facts.who.display(), "match": a.match.value}
                      for a in digest.first],
            "by_who": dict(digest.by_who), "by_event": dict(digest.by_event),
        }
        return {"Message": _cut_bytes(json.dumps(body, ensure_ascii=False), MESSAGE_LIMIT), "Subject": line}

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
