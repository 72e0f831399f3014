"""What every destination says about a match, independent of how it is delivered.

Destinations differ in markup (Slack mrkdwn, plain-text email, JSON for SNS) but tell the same
story: rule, description, annotation, the key facts of the event, then the raw event.
"""

from __future__ import annotations

import json
from typing import Any

from tattletail.facts import key_facts
from tattletail.rules import Match


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=str)


def annotation_text(match: Match) -> str | None:
    """The annotation as a reader sees it: strings as they are, other values as JSON."""
    if match.annotation is None:
        return None
    return match.annotation if isinstance(match.annotation, str) else pretty_json(match.annotation)


def subject(match: Match) -> str:
    """A one-line summary: the rule and what happened."""
    record = match.record
    what = record.get("eventName") if isinstance(record.get("eventName"), str) else None
    return f"tattletail: {match.rule.name}" + (f" ({what})" if what else "")


def plain_text(match: Match) -> str:
    """The whole alert as plain text (email bodies)."""
    lines = [f"Alert: {match.rule.name}"]
    if match.rule.description:
        lines.append(match.rule.description)
    note = annotation_text(match)
    if note:
        lines += ["", f"Match: {note}"]
    facts = key_facts(match.record)
    if facts:
        width = max(len(label) for label, _ in facts)
        lines.append("")
        lines += [f"{label.ljust(width)}  {value}" for label, value in facts]
    lines += ["", "Event:", pretty_json(match.record), ""]
    return "\n".join(lines)
