"""The one seam to AWS: boto3 clients, and what a botocore failure means.

Every module that talks to AWS gets its client from ``client()`` (one per service and region per
process, reused across invocations of a warm container) and asks this module what an exception means
(``error_code``, ``is_missing``, ``is_retryable``, ``is_conditional_failure``), so the classification
is made once. Tests hand in their own clients where a class takes ``client=``, and ``reset()`` forgets
the cached ones (each test is a new container).

boto3 is imported lazily so ``tattletail check`` works without it, and clients use botocore's
``standard`` retry mode. ``AWS_ENDPOINT_URL`` is honoured by boto3 itself; nothing here overrides it.

Time: a client made without a time limit uses botocore's defaults (60 s to connect, 60 s per read,
3 tries). Inside a Lambda invocation every call must end before the deadline, and botocore cannot change
a client's timeouts per call, so ``Clients`` hands out one client per *tier* (60, 30, 15, 8, 4, 2, 1,
0.5, 0.25 s): a call that may take ``within`` seconds uses the largest tier whose tries, each a connect
and a read, fit in it.
"""

from __future__ import annotations

from typing import Any

from tattletail.errors import DeliveryError, RetryableDeliveryError

_clients: dict[tuple[str, str | None, float | None, int], Any] = {}
TIERS = (60.0, 30.0, 15.0, 8.0, 4.0, 2.0, 1.0, 0.5, 0.25)

THROTTLING = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
    "TooManyRequestsException", "ProvisionedThroughputExceededException", "RequestLimitExceeded",
    "SlowDown", "PriorRequestNotComplete", "KMSThrottlingException", "ServiceUnavailable",
    "InternalError", "InternalFailure",
})
MISSING = frozenset({"NoSuchKey", "404", "NoSuchBucket", "NotFound", "ParameterNotFound",
                     "ResourceNotFoundException", "AWS.SimpleQueueService.NonExistentQueue",
                     "QueueDoesNotExist"})


def client(service: str, region: str | None = None, *, timeout: float | None = None, attempts: int = 3) -> Any:
    """The process's client for ``service`` (in ``region``, or the environment's). With ``timeout``, its
    connect and read timeouts are that many seconds and it tries ``attempts`` times in all."""
    key = (service, region, timeout, attempts)
    found = _clients.get(key)
    if found is None:
        try:
            import boto3
            from botocore.config import Config
        except ModuleNotFoundError as exc:  # a runtime-only install (`make demo`): say what to install
            raise ModuleNotFoundError(f"{exc.name} is not installed (`make demo` installs only what running "
                                      f"needs): pip install 'tattletail[aws]'", name=exc.name) from None

        retries: dict[str, Any] = {"mode": "standard"}
        if timeout is None:
            config = Config(retries=retries)
        else:
            config = Config(retries={**retries, "total_max_attempts": attempts}, connect_timeout=timeout,
                            read_timeout=timeout)
        found = _clients[key] = boto3.client(service, region_name=region, config=config)
    return found


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

    def get(self, within: float | None = None) -> Any:
        """A client whose calls end within ``within`` seconds (``None``: botocore's defaults)."""
        if within is None:
            return client(self.service, self.region, attempts=self.attempts)
        return client(self.service, self.region, timeout=tier(within, self.attempts), attempts=self.attempts)


def reset() -> None:
    """Forget every cached client (a new container; tests)."""
    _clients.clear()


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ``ClientError`` (``""`` for anything else)."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return ""
    return str(response.get("Error", {}).get("Code", ""))


def http_status(exc: BaseException) -> int:
    """The HTTP status of a botocore ``ClientError`` (0 for anything else)."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return 0
    return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def is_missing(exc: BaseException) -> bool:
    """The thing asked for does not exist (an object, a bucket, a parameter, a queue)."""
    return error_code(exc) in MISSING


def is_conditional_failure(exc: BaseException) -> bool:
    """A DynamoDB condition did not hold (someone else holds or finished the key)."""
    return error_code(exc) == "ConditionalCheckFailedException"


def is_retryable(exc: BaseException) -> bool:
    """Worth trying again: throttling, a 5xx, or trouble reaching AWS at all."""
    if error_code(exc) in THROTTLING or http_status(exc) >= 500:
        return True
    try:
        from botocore.exceptions import ConnectionError, HTTPClientError
    except ImportError:  # pragma: no cover - botocore is there whenever a client exists
        return False
    return isinstance(exc, ConnectionError | HTTPClientError)


# botocore failures a person fixes in their environment: said as what to do, not botocore's text
_SETUP = {
    "NoCredentialsError": "no AWS credentials found (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)",
    "PartialCredentialsError": "no AWS credentials found (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
                               "AWS_SECRET_ACCESS_KEY)",
    "NoRegionError": "no AWS region set (set AWS_REGION or AWS_DEFAULT_REGION)",
}


def is_aws_error(exc: BaseException) -> bool:
    """Whether ``exc`` is a botocore or boto3 failure (anything else raised near a client is a bug)."""
    return type(exc).__module__.startswith(("botocore", "boto3"))


def describe(exc: BaseException) -> str:
    """A one-line description of an AWS failure for errors and logs, the same wherever it is shown (the
    Lambda's logs, dead letters, every command): what to set for missing credentials or region,
    ``Code: message`` for an AWS error, ``Type: text`` for anything else (connection trouble)."""
    if isinstance(exc, ModuleNotFoundError):  # boto3 missing: ``client`` says which extra installs it
        return str(exc)
    if is_aws_error(exc) and type(exc).__name__ in _SETUP:
        return _SETUP[type(exc).__name__]
    code = error_code(exc)
    if code:
        message = getattr(exc, "response", {}).get("Error", {}).get("Message") or ""
        text = f"{code}: {message}" if message else f"{code}: {exc}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())


def delivery_error(exc: Exception, where: str) -> DeliveryError:
    """A botocore failure as a delivery error: retryable for throttling, 5xx and connection trouble."""
    if is_retryable(exc):
        return RetryableDeliveryError(f"{where}: {describe(exc)}")
    return DeliveryError(f"{where}: {describe(exc)}")
