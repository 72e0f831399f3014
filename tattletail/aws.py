"""boto3 clients for destinations and the state table, created on first use.

boto3 is imported lazily so ``tattletail check`` works without it. ``AWS_ENDPOINT_URL`` is honoured by
boto3 itself; nothing here overrides it.

Time: a client made without a time limit uses botocore's defaults (60 s to connect, 60 s per read,
``standard`` retry mode: 3 tries). Inside a Lambda invocation every call must end before the deadline,
and botocore cannot change a client's timeouts per call, so ``Clients`` keeps one client per *tier*
(60, 30, 15, 8, 4, 2, 1, 0.5, 0.25 s): a call that may take ``within`` seconds uses the largest tier
whose tries, each a connect and a read, fit in it.
"""

from __future__ import annotations

from typing import Any

TIERS = (60.0, 30.0, 15.0, 8.0, 4.0, 2.0, 1.0, 0.5, 0.25)


def client(service: str, region: str | None = None, *, timeout: float | None = None, attempts: int = 3) -> Any:
    """A client; with ``timeout``, its connect and read timeouts are that many seconds and it tries
    ``attempts`` times in all (botocore's own retries)."""
    import boto3
    from botocore.config import Config

    if timeout is None:
        return boto3.client(service, region_name=region, config=Config(retries={"mode": "standard"}))
    return boto3.client(service, region_name=region, config=Config(
        retries={"mode": "standard", "total_max_attempts": attempts}, connect_timeout=timeout,
        read_timeout=timeout))


def tier(within: float, attempts: int = 1) -> float:
    """The connect and read timeout for a call that must end within ``within`` seconds: each of its
    ``attempts`` tries may connect and read once (botocore's backoff between tries is at most a second
    at first, counted as one more timeout)."""
    share = within / (2 * attempts + (attempts - 1))
    return next((t for t in TIERS if t <= share), TIERS[-1])


class Clients:
    """The clients of one service and region, one per timeout tier, made when first needed."""

    def __init__(self, service: str, region: str | None = None, *, attempts: int = 1) -> None:
        self.service, self.region, self.attempts = service, region, attempts
        self._made: dict[float | None, Any] = {}

    def get(self, within: float | None = None) -> Any:
        """A client whose calls end within ``within`` seconds (``None``: botocore's defaults)."""
        timeout = None if within is None else tier(within, self.attempts)
        made = self._made.get(timeout)
        if made is None:
            made = self._made[timeout] = client(self.service, self.region, timeout=timeout,
                                                attempts=self.attempts)
        return made


THROTTLING = {"Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
              "TooManyRequestsException", "ProvisionedThroughputExceededException", "RequestLimitExceeded",
              "SlowDown", "PriorRequestNotComplete", "KMSThrottlingException", "ServiceUnavailable",
              "InternalError", "InternalFailure"}


def delivery_error(exc: Exception, where: str) -> Exception:
    """A botocore failure as a delivery error: retryable for throttling, 5xx and connection trouble."""
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

    from tattletail.errors import DeliveryError, RetryableDeliveryError

    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        if code in THROTTLING or status >= 500:
            return RetryableDeliveryError(f"{where}: {exc}")
        return DeliveryError(f"{where}: {exc}")
    if isinstance(exc, ConnectionError | HTTPClientError):
        return RetryableDeliveryError(f"{where}: {exc}")
    return DeliveryError(f"{where}: {type(exc).__name__}: {exc}")
