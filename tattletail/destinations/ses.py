"""Amazon SES: one email per alert, with a plain-text and an HTML part telling the same facts."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from typing import Any, ClassVar

from tattletail import aws
from tattletail.alerts import escape as esc
from tattletail.alerts.alert import Alert, Digest, View, pretty_json
from tattletail.destinations.base import Destination, KeySpec

SUBJECT_LIMIT = 200


def html_body(alert: Alert, view: View) -> str:
    """The HTML part: every value escaped (invisible characters shown, one-line values on one line),
    no external resources."""
    e = esc.html_text
    parts = [f"<h2>{e(view.summary(alert), line=True)}</h2>", "<table>"]
    rows = [(view.label("rule"), esc.one_line(alert.rule.name))]
    if alert.severity:
        rows.append((view.label("severity"), view.severity(alert) or ""))
    if alert.rule.description:
        rows.append((view.label("description"), alert.rule.description))
    if alert.annotation is not None:
        rows.append((view.label("match"), esc.one_line(alert.annotation)))
    rows += view.rows(alert)
    parts += [f'<tr><th align="left">{e(name)}</th><td>{e(value)}</td></tr>' for name, value in rows]
    parts.append("</table>")
    links = view.links(alert)
    if links:
        parts.append("<p>" + " | ".join(f'<a href="{e(url)}">{e(name)}</a>' for name, url in links) + "</p>")
    parts.append(f"<h3>{e(view.label('record'))}</h3><pre>{e(pretty_json(alert.record))}</pre>")
    return "\n".join(parts)


class Ses(Destination):
    """Sends to ``to_emails`` from ``from_email`` (an SES-verified identity)."""

    type: ClassVar[str] = "ses"
    KEYS: ClassVar[KeySpec] = {
        "to_emails": (list, True),
        "from_email": (str, True),
        "region": (str, False),
    }

    def __init__(self, id: str, to_emails: list[str], from_email: str, region: str | None = None, *,
                 view: View | None = None, digest_threshold: int = Destination.DIGEST_THRESHOLD,
                 client: Any = None) -> None:
        super().__init__(id, view=view, digest_threshold=digest_threshold)
        self.to_emails = list(to_emails)
        self.from_email = from_email
        self.region = region
        self._client = client
        self._clients: aws.Clients | None = None
        self._within: float | None = None  # the time the current try may take

    @classmethod
    def validate(cls, values: dict[str, Any], unresolved: AbstractSet[str] = frozenset()) -> list[str]:
        problems = []
        emails = values["to_emails"]
        if not emails:
            problems.append("to_emails is empty")
        for email in emails:
            if "to_emails" not in unresolved and (not isinstance(email, str) or "@" not in email):
                problems.append(f"to_emails has an entry that is not an email address: {email!r}")
        if "from_email" not in unresolved and "@" not in values["from_email"]:
            problems.append(f"from_email is not an email address: {values['from_email']!r}")
        return problems

    @property
    def client(self) -> Any:
        """The client given, else one whose calls end within the current try's time (``deliver``)."""
        if self._client is not None:
            return self._client
        if self._clients is None:
            self._clients = aws.Clients("ses", self.region)
        return self._clients.get(self._within)

    def render(self, alert: Alert) -> dict[str, Any]:
        """The ``SendEmail`` parameters."""
        return self._email(self.view.summary(alert), self.view.plain_text(alert), html_body(alert, self.view))

    def render_digest(self, digest: Digest) -> dict[str, Any]:
        text = self.view.digest_text(digest)
        return self._email(self.view.digest_summary(digest), text, f"<pre>{esc.html_text(text)}</pre>")

    def _email(self, subject: str, text: str, html: str) -> dict[str, Any]:
        return {
            "Source": self.from_email,
            "Destination": {"ToAddresses": self.to_emails},
            "Message": {
                "Subject": {"Data": esc.mail_subject(subject, SUBJECT_LIMIT), "Charset": "UTF-8"},
                "Body": {"Text": {"Data": text, "Charset": "UTF-8"}, "Html": {"Data": html, "Charset": "UTF-8"}},
            },
        }

    def show(self, rendered: dict[str, Any]) -> str:
        message = rendered["Message"]
        return (f"From: {rendered['Source']}\nTo: {', '.join(rendered['Destination']['ToAddresses'])}\n"
                f"Subject: {message['Subject']['Data']}\n\n{message['Body']['Text']['Data']}\n"
                f"--- HTML part ---\n{message['Body']['Html']['Data']}")

    def deliver(self, rendered: dict[str, Any], timeout: float | None = None) -> None:
        """Once (botocore's own retries off when timed: ``retry.call`` retries throttling and 5xx), its
        connect and read timeouts capped by ``timeout``."""
        self._within = timeout
        try:
            self.client.send_email(**rendered)
        except Exception as exc:  # botocore raises many unrelated types; classified by aws.delivery_error
            raise aws.delivery_error(exc, f'destination "{self.id}" (ses from {self.from_email})') from None
