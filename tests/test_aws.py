"""The one AWS seam: botocore is imported by ``tattletail.aws`` alone, and every failure is worded by
``aws.describe``, whichever part shows it."""

from __future__ import annotations

import ast

import pytest
from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError

from tattletail import aws
from tattletail.commands.common import aws_failure
from tattletail.correlation.state import DynamoWindows
from tattletail.errors import StateError
from tests.helpers import ROOT


def test_only_the_aws_module_imports_botocore() -> None:
    importers = []
    for path in sorted((ROOT / "tattletail").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n.split(".")[0] in ("botocore", "boto3") for n in names):
                importers.append(path.relative_to(ROOT).as_posix())
    assert set(importers) == {"tattletail/aws.py"}


def test_missing_credentials_and_region_are_said_as_what_to_set() -> None:
    no_credentials = "no AWS credentials found (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
    assert aws.describe(NoCredentialsError()) == no_credentials
    assert aws_failure(NoCredentialsError()) == no_credentials  # the commands word it the same way
    assert aws.describe(NoRegionError()) == aws_failure(NoRegionError()) == (
        "no AWS region set (set AWS_REGION or AWS_DEFAULT_REGION)")
    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "not you"}}, "GetObject")
    assert aws.describe(denied) == aws_failure(denied) == "AccessDenied: not you"
    assert aws_failure(ValueError("a bug")) is None


class Failing:
    """A DynamoDB client whose every call fails as ``exc``."""

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def get_item(self, **_: object) -> None:
        raise self.exc

    def update_item(self, **_: object) -> None:
        raise self.exc


def test_correlation_state_errors_are_worded_by_the_seam() -> None:
    windows = DynamoWindows("state", Failing(NoCredentialsError()))
    with pytest.raises(StateError, match=r"cannot read correlation window: no AWS credentials found"):
        windows.peek("k")
    with pytest.raises(StateError, match=r"cannot prune correlation: no AWS credentials found"):
        windows.prune("k", {"a"}, {1})
    condition = ClientError({"Error": {"Code": "ConditionalCheckFailedException", "Message": "no"}}, "UpdateItem")
    DynamoWindows("state", Failing(condition)).prune("k", {"a"}, {1})  # a window gone or done: nothing to prune
