from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import settings

from tests.helpers import FakeSlack, corpus_files

# Property tests in the suite are deterministic; ``make fuzz`` explores with HYPOTHESIS_PROFILE=explore.
settings.register_profile("derandomized", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False, database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "derandomized"))

ACCOUNT = "123456789012"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    server = FakeSlack()
    yield server
    server.close()


@pytest.fixture
def corpus() -> list[Any]:
    files = corpus_files()
    if not files:
        pytest.skip("../shared/corpus is absent: the real CloudTrail corpus is needed for this test")
    return files


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto in-process, with credentials that cannot reach real AWS."""
    from moto import mock_aws

    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "S3_CONFIG_BUCKET", "S3_CONFIG_PATH", "TATTLETAIL_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        yield


@pytest.fixture(autouse=True)
def _logs_reach_caplog() -> None:
    """``log.setup`` stops tattletail's lines from reaching the root logger (the Lambda runtime's handler
    would print them twice). Set it up once here and let the lines propagate, so ``caplog`` sees them
    whichever test runs first."""
    import logging

    from tattletail import log

    if not log.logger.handlers:
        log.setup("WARNING")
    logging.getLogger("tattletail").propagate = True


@pytest.fixture(autouse=True)
def _fresh_handler_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The handler caches its config and S3 client per container; each test is a new container.
    Retry waits are shortened so tests do not sleep for real backoffs."""
    from tattletail import aws, handler, redact
    from tattletail.config import current
    from tattletail.delivery.retry import RetryPolicy

    monkeypatch.setattr(handler, "retry_policy", RetryPolicy(attempts=4, base=0.01, cap=0.05, reserve=0.0))
    # secrets registered for redaction by an earlier test must not mask this one's text (order-independent)
    monkeypatch.setattr(redact, "_registered", set())
    monkeypatch.setattr(redact, "_finders", ())
    yield

    current.reset()
    aws.reset()
