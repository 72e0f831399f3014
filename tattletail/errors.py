"""The errors tattletail raises, all under one root, drawn here and defined nowhere else.

    TattletailError
     +-- ConfigError          the configuration is invalid; carries every problem found at once
     +-- SecretError          a secret reference is malformed or cannot be read (names the reference,
     |                        never the value)
     +-- SourceError          an event or log object could not be read (names the object)
     |    +-- NotCloudTrail   the object is not a CloudTrail log file: skipped, not a failure
     +-- RuleRuntimeError     jq raised while evaluating one rule on one record
     +-- DeliveryError        a destination failed to send (names the destination, never its secret)
     |    +-- RetryableDeliveryError   worth trying again (5xx, 429, timeouts, throttling)
     +-- StateError           the delivery state store (DynamoDB) failed
     +-- DeadLetterError      a dead letter could not be stored or read back
     +-- PolicyError          the IAM policy cannot be derived from a config (``tattletail policy``)
     +-- InvocationFailed     after trying every object and delivery, some failed; carries each one

Catching ``TattletailError`` catches anything the package raises on purpose. Two exceptions live
outside the tree on purpose and never leave their package: ``tattletail.jq`` (which imports nothing
else of tattletail) raises ``JqError`` and ``Unsupported``, which the rules and engine turn into
``RuleRuntimeError`` or a libjq fallback; the Sigma importer's ``Skipped`` (a rule) and
``SkippedCorrelation`` (a correlation) become skipped lines.

The messages of
``ConfigError``, ``DeliveryError`` and ``InvocationFailed`` pass through ``redact.redact``: they are
printed, logged, stored in dead letters and returned as the Lambda's error, so no registered secret (a
webhook URL) may be in them, whatever a library put in the text they quote.
"""

from __future__ import annotations

from tattletail.redact import redact


class TattletailError(Exception):
    """Root of every error tattletail raises on purpose."""


class ConfigError(TattletailError):
    """The configuration cannot be used. ``problems`` lists every problem, each naming its place;
    ``warnings`` what was found besides, so that fixing the problems does not reveal more to fix."""

    def __init__(self, problems: list[str], warnings: list[str] | None = None) -> None:
        self.problems = [redact(problem) for problem in problems]
        self.warnings = [redact(warning) for warning in warnings or ()]
        super().__init__("\n".join(self.problems))


class SecretError(TattletailError):
    """A reference that is malformed, or whose secret cannot be read."""


class SourceError(TattletailError):
    """An event or a log object could not be read."""


class NotCloudTrail(SourceError):
    """The object is not a CloudTrail log file (it is skipped, not an error of the invocation)."""


class RuleRuntimeError(TattletailError):
    """jq raised while evaluating one rule on one record."""


class DeliveryError(TattletailError):
    """One delivery to one destination failed."""

    def __init__(self, message: str) -> None:
        super().__init__(redact(message))


class RetryableDeliveryError(DeliveryError):
    """A failure that may pass if tried again; ``retry_after`` is the wait the server asked for."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class StateError(TattletailError):
    """The delivery state store could not be read or written."""


class DeadLetterError(TattletailError):
    """A letter could not be stored."""


class PolicyError(TattletailError):
    """The policy cannot be derived (a value it needs is an unresolved secret reference)."""


class InvocationFailed(TattletailError):
    """Some objects or deliveries failed; everything was attempted before this was raised."""

    def __init__(self, failures: list[str]) -> None:
        self.failures = [redact(failure) for failure in failures]  # this message is the Lambda's error
        super().__init__(f"{len(self.failures)} failed: " + "; ".join(self.failures))
