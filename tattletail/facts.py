"""The key facts of a CloudTrail record, read defensively.

Real records are irregular: ``userIdentity`` can be missing (Insights events), ``requestParameters``
null or a string, ARNs empty. Every function here returns text or ``None`` and never raises, whatever
the record holds, so a message can always be rendered.
"""

from __future__ import annotations

from typing import Any


def _get(record: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(record, dict):
            return None
        record = record.get(key)
    return record


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else str(value)


def who(record: dict[str, Any]) -> str | None:
    """The principal, as a person reading an alert wants it: the IAM user; for an assumed role the
    role *and* the session name; ``root``; the AWS service that acted."""
    identity = _get(record, "userIdentity")
    if not isinstance(identity, dict):
        return None
    kind = identity.get("type")
    arn = _text(identity.get("arn"))
    if kind == "Root":
        return f"root ({arn})" if arn else "root"
    if kind == "AWSService":
        return _text(identity.get("invokedBy")) or "AWS service"
    if kind == "AssumedRole":
        role = _text(_get(identity, "sessionContext", "sessionIssuer", "userName"))
        session = arn.rsplit("/", 1)[-1] if arn and "/" in arn else None
        if role and session:
            return f"{role}/{session}"
        return arn or role
    if kind == "IAMUser":
        return _text(identity.get("userName")) or arn
    return arn or _text(identity.get("userName")) or _text(identity.get("principalId")) or _text(kind)


def target(record: dict[str, Any]) -> str | None:
    """What the call acted on: an SSM session's instance, the named resource, or the resource ARNs."""
    params = _get(record, "requestParameters")
    if isinstance(params, dict):
        for key in ("target", "instanceId", "userName", "roleName", "bucketName", "name", "policyArn",
                    "groupId", "keyId", "functionName", "trailName", "roleArn"):
            value = params.get(key)
            if isinstance(value, str) and value:
                return value
    resources = _get(record, "resources")
    if isinstance(resources, list):
        arns = [str(r["ARN"]) for r in resources if isinstance(r, dict) and isinstance(r.get("ARN"), str)]
        if arns:
            return ", ".join(arns)
    return None


def key_facts(record: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) pairs for the facts present in ``record``, in reading order."""
    facts = [
        ("Time", _text(record.get("eventTime"))),
        ("Event", _text(record.get("eventName"))),
        ("Source", _text(record.get("eventSource"))),
        ("Region", _text(record.get("awsRegion"))),
        ("Account", _text(record.get("recipientAccountId")) or _text(_get(record, "userIdentity", "accountId"))),
        ("Who", who(record)),
        ("Source IP", _text(record.get("sourceIPAddress"))),
        ("Target", target(record)),
        ("Error", _text(record.get("errorCode"))),
    ]
    return [(label, value) for label, value in facts if value]
