"""The normalized facts of any CloudTrail record: who, when, from where, to what, and the outcome.

Real records are irregular: ``userIdentity`` is missing in Insights events, ``requestParameters`` is
null or a string, ARNs are empty, identities come in a dozen shapes. ``derive`` reads every shape
found in real data and never raises, whatever the record holds, so an alert can always be rendered.

Who is, per ``userIdentity.type``:

- IAMUser: the user name.
- AssumedRole: the role (``sessionContext.sessionIssuer.userName``, else from the ARN) *and* the role
  session name (the ARN's last part: ``botocore-session-123`` for a tool, the name a person set).
- Root: ``root``. AWSService: the service (``invokedBy``). FederatedUser: the federated name, issued by
  an IAM user. SAMLUser / WebIdentityUser: ``userName``. IdentityCenterUser: ``onBehalfOf.userId``.
  AWSAccount: the calling account. Unknown: what the ARN or principal says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")
_TARGET_KEYS = ("target", "instanceId", "userName", "roleName", "groupName", "policyArn", "bucketName",
                "trailName", "name", "keyId", "functionName", "groupId", "roleArn", "secretId", "clusterName",
                "dBInstanceIdentifier", "tableName", "topicArn", "queueUrl", "detectorId")


def get(record: Any, *path: str) -> Any:
    """``record.a.b`` as jq reads it: absent or through a non-object -> ``None``."""
    for key in path:
        if not isinstance(record, dict):
            return None
        record = record.get(key)
    return record


def text(value: Any) -> str | None:
    """A non-empty string for display, or ``None`` (numbers and booleans are shown as text)."""
    if value is None or value == "" or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


@dataclass(frozen=True)
class Identity:
    """Who acted, as a reader wants it."""

    type: str | None = None
    name: str | None = None          # the user, role, service or account that acted
    session: str | None = None       # an assumed role's session name
    arn: str | None = None
    account: str | None = None
    issuer: str | None = None        # who issued a federated session

    def display(self) -> str | None:
        if self.name and self.session:
            return f"{self.name} ({self.session})"
        return self.name or self.arn


def identity(record: dict[str, Any]) -> Identity:
    ui = record.get("userIdentity")
    if not isinstance(ui, dict):
        return Identity()
    kind = text(ui.get("type"))
    arn = text(ui.get("arn"))
    account = text(ui.get("accountId"))
    last = arn.rsplit("/", 1)[-1] if arn and "/" in arn else None
    issuer = text(get(ui, "sessionContext", "sessionIssuer", "userName"))
    if kind == "IAMUser":
        return Identity(kind, text(ui.get("userName")) or last or arn, None, arn, account)
    if kind == "AssumedRole":
        role = issuer or _assumed_role_name(arn)
        return Identity(kind, role or arn, last, arn, account, issuer)
    if kind == "Root":
        return Identity(kind, "root", None, arn, account)
    if kind == "AWSService":
        return Identity(kind, text(ui.get("invokedBy")) or "AWS service", None, arn, account)
    if kind == "FederatedUser":
        name = last or _after_colon(text(ui.get("principalId")))
        return Identity(kind, name or arn, None, arn, account, issuer)
    if kind == "IdentityCenterUser":
        user = text(get(ui, "onBehalfOf", "userId")) or text(ui.get("userName"))
        return Identity(kind, user or text(ui.get("credentialId")), None, arn, account)
    if kind == "AWSAccount":
        name = text(ui.get("accountId")) or text(ui.get("principalId"))
        return Identity(kind, f"account {name}" if name else text(ui.get("invokedBy")), None, arn, account)
    role = _assumed_role_name(arn)  # Unknown, SAMLUser, WebIdentityUser, Directory, ... : best effort
    name = text(ui.get("userName")) or role or last or _after_colon(text(ui.get("principalId")))
    return Identity(kind, name or arn, last if role else None, arn, account)


def _assumed_role_name(arn: str | None) -> str | None:
    if arn and ":assumed-role/" in arn:
        parts = arn.split(":assumed-role/", 1)[1].split("/")
        return parts[0] or None
    return None


def _after_colon(principal: str | None) -> str | None:
    return principal.split(":", 1)[1] if principal and ":" in principal else principal


def target(record: dict[str, Any]) -> str | None:
    """What the call acted on: an SSM session's instance, the named resource, else resource ARNs."""
    params = record.get("requestParameters")
    if isinstance(params, dict):
        for key in _TARGET_KEYS:
            value = params.get(key)
            if isinstance(value, str) and value:
                return value
        ids = get(params, "instancesSet", "items")
        if isinstance(ids, list):
            found = [str(i["instanceId"]) for i in ids if isinstance(i, dict) and isinstance(i.get("instanceId"), str)]
            if found:
                return ", ".join(found)
    arns = resource_arns(record)
    return ", ".join(arns) if arns else None


def resource_arns(record: dict[str, Any]) -> list[str]:
    resources = record.get("resources")
    if not isinstance(resources, list):
        return []
    return [r["ARN"] for r in resources if isinstance(r, dict) and isinstance(r.get("ARN"), str) and r["ARN"]]


def parse_time(value: Any) -> datetime | None:
    """``eventTime`` (ISO 8601, UTC) as an aware datetime; ``None`` when absent or unreadable."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def console_url(region: str | None, event_id: str | None) -> str | None:
    """The event in the CloudTrail console's event history, in its own region and partition."""
    if not region or not event_id or not _REGION.match(region):
        return None
    domain = ("console.amazonaws-us-gov.com" if region.startswith("us-gov-") else
              "console.amazonaws.cn" if region.startswith("cn-") else "console.aws.amazon.com")
    return (f"https://{region}.{domain}/cloudtrailv2/home?region={region}"
            f"#/events/{quote(event_id, safe='', errors='replace')}")


@dataclass(frozen=True)
class Facts:
    """What a reader of an alert wants to know about one record."""

    time: datetime | None = None
    event_name: str | None = None
    event_source: str | None = None
    region: str | None = None
    account: str | None = None
    who: Identity = field(default_factory=Identity)
    source_ip: str | None = None
    user_agent: str | None = None
    target: str | None = None
    resources: tuple[str, ...] = ()
    error_code: str | None = None
    error_message: str | None = None
    event_id: str | None = None
    event_type: str | None = None
    console_url: str | None = None

    @property
    def failed(self) -> bool:
        return bool(self.error_code or self.error_message)


def derive(record: dict[str, Any]) -> Facts:
    """The facts of any record; never raises."""
    if not isinstance(record, dict):
        return Facts()
    who = identity(record)
    region = text(record.get("awsRegion"))
    event_id = text(record.get("eventID"))
    insight = get(record, "insightDetails", "eventName")
    return Facts(
        time=parse_time(record.get("eventTime")),
        event_name=text(record.get("eventName")) or text(insight),
        event_source=text(record.get("eventSource")) or text(get(record, "insightDetails", "eventSource")),
        region=region,
        account=text(record.get("recipientAccountId")) or who.account,
        who=who,
        source_ip=text(record.get("sourceIPAddress")),
        user_agent=text(record.get("userAgent")),
        target=target(record),
        resources=tuple(resource_arns(record)),
        error_code=text(record.get("errorCode")),
        error_message=text(record.get("errorMessage")),
        event_id=event_id,
        event_type=text(record.get("eventType")),
        console_url=console_url(region, event_id),
    )
