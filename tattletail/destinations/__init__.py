"""Destinations: where matches are sent. One module per sink, registered by ``type`` here."""

from __future__ import annotations

from tattletail.destinations.base import Destination
from tattletail.destinations.ses import Ses
from tattletail.destinations.slack import SlackWebhook
from tattletail.destinations.sns import Sns

REGISTRY: dict[str, type[Destination]] = {cls.type: cls for cls in (SlackWebhook, Sns, Ses)}

__all__ = ["REGISTRY", "Destination", "Ses", "SlackWebhook", "Sns"]
