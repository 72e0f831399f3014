"""Dead letters: alerts that still failed after their retries, kept whole so nothing is lost.

A letter holds the rule, the destination, the record(s), the rendered message exactly as it would have
been sent, the last error and the delivery keys. It goes to an SQS queue (``TATTLETAIL_DLQ_URL``) or under
an S3 prefix (``TATTLETAIL_DLQ_S3=s3://bucket/prefix``). ``tattletail redrive`` sends letters again.
SQS messages are limited to 256 KB; a letter over that drops its records (the rendered message
suffices to resend it), and one still over is not accepted: the caller then fails the invocation so
the alert is retried rather than lost. S3 has no such limit. A letter is written through
``redact.redact``: no registered secret (a webhook URL) is ever stored in one.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from tattletail import aws
from tattletail.alerts.escape import json_text
from tattletail.errors import DeadLetterError
from tattletail.redact import redact

SQS_LIMIT = 256 * 1024
TimeLeft = Callable[[], float]  # seconds the invocation has left


@dataclass
class Letter:
    body: dict[str, Any]
    handle: str  # SQS receipt handle or S3 key, to delete it once resent


def _body(text: str | bytes) -> dict[str, Any]:
    """A letter's body; one that cannot be read becomes ``{"unreadable": why}`` so that it is reported and
    kept, and the letters after it are still redriven."""
    try:
        body = json.loads(text)
    except ValueError as exc:
        return {"unreadable": f"not JSON: {exc}"}
    return body if isinstance(body, dict) else {"unreadable": f"a JSON {type(body).__name__}, not an object"}


def _encode(letter: dict[str, Any]) -> str:
    return redact(json_text(letter))  # valid UTF-8 whatever the records hold (lone surrogates escaped)


def _timed_client(service: str, time_left: TimeLeft | None) -> Any:
    """A client whose calls end within the invocation's time (``None``: botocore's defaults, the CLI)."""
    if time_left is None:
        return aws.client(service)
    left = time_left()
    return aws.Clients(service).get(None if math.isinf(left) else max(left, 1.0))


class SqsDeadLetters:
    def __init__(self, queue_url: str, client: Any = None, time_left: TimeLeft | None = None) -> None:
        self.queue_url = queue_url
        self._client = client
        self._time_left = time_left

    def __str__(self) -> str:
        return self.queue_url

    @property
    def client(self) -> Any:
        return self._client or _timed_client("sqs", self._time_left)

    def put(self, letter: dict[str, Any]) -> None:
        text = _encode(letter)
        if len(text.encode()) > SQS_LIMIT:
            text = _encode({**letter, "records": [], "records_dropped": len(letter.get("records", []))})
        if len(text.encode()) > SQS_LIMIT:
            raise DeadLetterError(f"dead letter queue {self.queue_url}: letter of {len(text.encode())} bytes "
                                  f"exceeds SQS's 256 KB")
        try:
            self.client.send_message(QueueUrl=self.queue_url, MessageBody=text)
        except Exception as exc:
            raise DeadLetterError(f"dead letter queue {self.queue_url}: {aws.describe(exc)}") from None

    def letters(self) -> Iterator[Letter]:
        while True:
            messages = self.client.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10,
                                                   WaitTimeSeconds=0, VisibilityTimeout=300).get("Messages", [])
            if not messages:
                return
            for message in messages:
                yield Letter(_body(message["Body"]), message["ReceiptHandle"])

    def delete(self, letter: Letter) -> None:
        self.client.delete_message(QueueUrl=self.queue_url, ReceiptHandle=letter.handle)

    def keep(self, letter: Letter) -> None:
        """Make a letter that was read but not resent visible again at once."""
        self.client.change_message_visibility(QueueUrl=self.queue_url, ReceiptHandle=letter.handle,
                                              VisibilityTimeout=0)


class S3DeadLetters:
    def __init__(self, url: str, client: Any = None, time_left: TimeLeft | None = None) -> None:
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        self.bucket, self.prefix = bucket, prefix.rstrip("/")
        self._client = client
        self._time_left = time_left

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    @property
    def client(self) -> Any:
        return self._client or _timed_client("s3", self._time_left)

    def put(self, letter: dict[str, Any]) -> None:
        key = f"{self.prefix}/{time.strftime('%Y/%m/%d', time.gmtime())}/{uuid.uuid4()}.json".lstrip("/")
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=_encode(letter).encode(),
                                   ContentType="application/json")
        except Exception as exc:
            raise DeadLetterError(f"dead letters {self}: {aws.describe(exc)}") from None

    def letters(self) -> Iterator[Letter]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=f"{self.prefix}/" if self.prefix else ""):
            for obj in page.get("Contents", []):
                body = self.client.get_object(Bucket=self.bucket, Key=obj["Key"])["Body"].read()
                yield Letter(_body(body), obj["Key"])

    def delete(self, letter: Letter) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=letter.handle)

    def keep(self, letter: Letter) -> None:
        pass  # an object stays where it is


DeadLetters = SqsDeadLetters | S3DeadLetters


def open_store(url: str, time_left: TimeLeft | None = None) -> DeadLetters:
    """An SQS queue URL (https://sqs...) or an ``s3://bucket/prefix``; with ``time_left`` (the Lambda's),
    every call to the store ends before the invocation does."""
    if url.startswith("s3://"):
        return S3DeadLetters(url, time_left=time_left)
    return SqsDeadLetters(url, time_left=time_left)
