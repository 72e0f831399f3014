"""Amazon SNS: the Go tool's JSON payload ``{name, description, record, match}``, unchanged, so
existing subscribers keep working; shortened to fit SNS's 256 KB message limit when needed."""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar

from tattletail.destinations import aws
from tattletail.destinations.base import Destination, KeySpec
from tattletail.errors import DeliveryError
from tattletail.rules import Match

MESSAGE_LIMIT = 256 * 1024  # bytes, UTF-8
ARN = re.compile(r"^arn:aws[a-zA-Z-]*:sns:[a-z0-9-]+:\d+:[A-Za-z0-9_-]{1,256}(\.fifo)?$")
# Parts of a record that can be large, dropped in this order when a message does not fit.
_BULKY = ("responseElements", "requestParameters", "additionalEventData", "resources", "serviceEventDetails")


def payload(match: Match) -> str:
    """The message text; ``match`` is jq's first output as the Go tool sends it (the record itself
    for a plain ``select``). When it exceeds the limit, the bulky parts of the record are replaced by
    a note of their size, one at a time, and a ``shortened`` key lists what was cut."""
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
        elif key == "record":  # last resort: drop every remaining large field
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


def _dump(name: str, description: str, record: Any, value: Any, shortened: list[str] | None = None) -> str:
    body: dict[str, Any] = {"name": name, "description": description, "record": record, "match": value}
    if shortened:
        body["shortened"] = shortened
    return json.dumps(body, ensure_ascii=False)


class Sns(Destination):
    """Publishes to one SNS topic (client made in the topic's own region)."""

    type: ClassVar[str] = "sns"
    KEYS: ClassVar[KeySpec] = {"sns_arn": (str, True)}

    def __init__(self, id: str, sns_arn: str, *, client: Any = None) -> None:
        super().__init__(id)
        self.sns_arn = sns_arn
        self._client = client

    @classmethod
    def validate(cls, values: dict[str, Any]) -> list[str]:
        if not ARN.match(values["sns_arn"]):
            return [f"sns_arn is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:TOPIC): {values['sns_arn']!r}"]
        return []

    def __repr__(self) -> str:
        return f"Sns(id={self.id!r}, sns_arn={self.sns_arn!r})"

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = aws.client("sns", region=self.sns_arn.split(":")[3])
        return self._client

    def send(self, match: Match) -> None:
        try:
            self.client.publish(TopicArn=self.sns_arn, Message=payload(match))
        except Exception as exc:  # botocore raises many unrelated types; all mean "not delivered"
            raise DeliveryError(f'destination "{self.id}" (sns {self.sns_arn}): {exc}') from None
