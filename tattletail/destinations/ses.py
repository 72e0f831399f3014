"""Amazon SES: one plain-text email per match."""

from __future__ import annotations

from typing import Any, ClassVar

from tattletail.destinations import aws
from tattletail.destinations.base import Destination, KeySpec
from tattletail.errors import DeliveryError
from tattletail.message import plain_text, subject
from tattletail.rules import Match


class Ses(Destination):
    """Sends to ``to_emails`` from ``from_email`` (an SES-verified identity)."""

    type: ClassVar[str] = "ses"
    KEYS: ClassVar[KeySpec] = {
        "to_emails": (list, True),
        "from_email": (str, True),
        "region": (str, False),
    }

    def __init__(self, id: str, to_emails: list[str], from_email: str, region: str | None = None, *,
                 client: Any = None) -> None:
        super().__init__(id)
        self.to_emails = list(to_emails)
        self.from_email = from_email
        self.region = region
        self._client = client

    @classmethod
    def validate(cls, values: dict[str, Any]) -> list[str]:
        problems = []
        emails = values["to_emails"]
        if not emails:
            problems.append("to_emails is empty")
        for email in emails:
            if not isinstance(email, str) or "@" not in email:
                problems.append(f"to_emails has an entry that is not an email address: {email!r}")
        if "@" not in values["from_email"]:
            problems.append(f"from_email is not an email address: {values['from_email']!r}")
        return problems

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = aws.client("ses", region=self.region)
        return self._client

    def send(self, match: Match) -> None:
        try:
            self.client.send_email(
                Source=self.from_email,
                Destination={"ToAddresses": self.to_emails},
                Message={
                    "Subject": {"Data": subject(match)[:998], "Charset": "UTF-8"},
                    "Body": {"Text": {"Data": plain_text(match), "Charset": "UTF-8"}},
                },
            )
        except Exception as exc:  # botocore raises many unrelated types; all mean "not delivered"
            raise DeliveryError(f'destination "{self.id}" (ses from {self.from_email}): {exc}') from None
