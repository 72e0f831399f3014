"""Destinations: where matches are sent. One module per sink, registered by ``type`` here.

The registry names each sink's module and class, and imports a module only when its type is looked up:
a configuration without Slack does not pay for loading an HTTP client at every cold start (it was the
largest part of the import time of the Lambda and of ``tattletail run``).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from tattletail.destinations.base import Destination

if TYPE_CHECKING:
    from tattletail.destinations.ses import Ses
    from tattletail.destinations.slack import SlackWebhook
    from tattletail.destinations.sns import Sns

_WHERE = {  # type -> (module, class); a test checks each class's ``type`` is its key here
    "slack_webhook": ("tattletail.destinations.slack", "SlackWebhook"),
    "sns": ("tattletail.destinations.sns", "Sns"),
    "ses": ("tattletail.destinations.ses", "Ses"),
}


class _Registry(Mapping[str, type[Destination]]):
    """``type`` -> destination class, each module imported on first lookup."""

    def __getitem__(self, kind: str) -> type[Destination]:
        module, name = _WHERE[kind]
        cls: type[Destination] = getattr(importlib.import_module(module), name)
        return cls

    def __iter__(self) -> Iterator[str]:
        return iter(_WHERE)

    def __len__(self) -> int:
        return len(_WHERE)


REGISTRY: Mapping[str, type[Destination]] = _Registry()


def __getattr__(name: str) -> Any:
    """``from tattletail.destinations import Sns`` and the like, imported when asked for."""
    for kind, (_, cls_name) in _WHERE.items():
        if cls_name == name:
            return REGISTRY[kind]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["REGISTRY", "Destination", "Ses", "SlackWebhook", "Sns"]
