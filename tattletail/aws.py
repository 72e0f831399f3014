"""boto3 clients for destinations, created on first use.

boto3 is imported lazily so ``tattletail check`` works without it, and clients use botocore's
``standard`` retry mode. ``AWS_ENDPOINT_URL`` is honoured by boto3 itself; nothing here overrides it.
"""

from __future__ import annotations

from typing import Any


def client(service: str, region: str | None = None) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(service, region_name=region, config=Config(retries={"mode": "standard"}))


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
