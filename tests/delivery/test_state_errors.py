"""State errors speak the one AWS seam's language (``aws.describe``: ``Code: message``), never botocore's
raw "An error occurred (...) when calling the ... operation" text."""

from __future__ import annotations

from collections.abc import Callable

import boto3
import pytest

from tattletail.correlation.state import DynamoWindows
from tattletail.delivery.state import DynamoState
from tattletail.errors import StateError


def _assert_described(call: Callable[[], object], what: str) -> None:
    with pytest.raises(StateError, match=f"state table missing: {what}: ResourceNotFoundException: ") as caught:
        call()
    assert "An error occurred" not in str(caught.value)
    assert "when calling" not in str(caught.value)


@pytest.mark.parametrize("call, what", [
    (lambda state: state.claim(["k1"]), "cannot claim"),
    (lambda state: state.look(["k1"]), "cannot read claims"),
    (lambda state: state.confirm(["k1"]), "delivered but not recorded"),
    (lambda state: state.park(["k1"]), "dead-lettered but not recorded"),
    (lambda state: state.release(["k1"]), "cannot release"),
])
def test_delivery_state_errors_name_the_aws_error_code_not_botocore_text(
        aws: None, call: Callable[[DynamoState], object], what: str) -> None:
    state = DynamoState("missing", boto3.client("dynamodb", region_name="us-east-1"))
    _assert_described(lambda: call(state), what)


def test_correlation_state_errors_name_the_aws_error_code_not_botocore_text(aws: None) -> None:
    windows = DynamoWindows("missing", boto3.client("dynamodb", region_name="us-east-1"))
    _assert_described(lambda: windows.done("k", 0), "cannot mark correlation fired")


def test_dead_letter_errors_name_the_aws_error_code_not_botocore_text(aws: None) -> None:
    from tattletail.delivery.deadletter import S3DeadLetters, SqsDeadLetters
    from tattletail.errors import DeadLetterError

    queue = SqsDeadLetters("https://sqs.us-east-1.amazonaws.com/123456789012/missing",
                           boto3.client("sqs", region_name="us-east-1"))
    bucket = S3DeadLetters("s3://missing-bucket/letters", boto3.client("s3", region_name="us-east-1"))
    for store, code in ((queue, "NonExistentQueue"), (bucket, "NoSuchBucket")):
        with pytest.raises(DeadLetterError) as caught:
            store.put({"version": 1, "kind": "alert", "rule": "r", "records": []})
        text = str(caught.value)
        assert code in text and "An error occurred" not in text and "when calling" not in text, text
