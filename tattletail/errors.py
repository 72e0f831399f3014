"""The errors tattletail raises, all under one root.

    TattletailError
     +-- ConfigError        the configuration is invalid; carries every problem found at once
     +-- SourceError        an event or log object could not be read (names the object)
     +-- DeliveryError      a destination failed to send (names the destination, never its secret)
     +-- InvocationFailed   after trying every object and delivery, some failed; carries each one

Catching ``TattletailError`` catches anything the package raises on purpose.
"""

from __future__ import annotations


class TattletailError(Exception):
    """Root of every error tattletail raises on purpose."""


class ConfigError(TattletailError):
    """The configuration cannot be used. ``problems`` lists every problem, each naming its place."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class SourceError(TattletailError):
    """An event or a log object could not be read."""


class DeliveryError(TattletailError):
    """One delivery to one destination failed."""


class InvocationFailed(TattletailError):
    """Some objects or deliveries failed; everything was attempted before this was raised."""

    def __init__(self, failures: list[str]) -> None:
        self.failures = list(failures)
        super().__init__(f"{len(self.failures)} failed: " + "; ".join(self.failures))
